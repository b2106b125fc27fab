/**
 * Per-tenant bounds of the produce routes: how many requests, and how many
 * records awaiting Kafka's acknowledgement, one tenant may have at once.
 *
 * A tenant is a security context, by its fingerprint: the requests of one
 * context share one producer (its queue, its connections), so that is the
 * resource one caller can crowd the others out of. Users mapped to the same
 * context are one tenant here, as they are one client to Kafka.
 *
 * @module
 */

/** What one tenant holds now. An entry lives while either count is above zero. */
interface Holding {
  requests: number;
  records: number;
}

/** The counts of every tenant with a request or a record in flight; owned by one `publishRoutes` app. */
export class TenantLimits {
  readonly maxRequests: number;
  readonly maxRecords: number;
  #tenants = new Map<string, Holding>();

  constructor(maxRequests: number, maxRecords: number) {
    this.maxRequests = maxRequests;
    this.maxRecords = maxRecords;
  }

  /**
   * Admit one request of `tenant`: the reason it cannot be (its requests or
   * records in flight are at their bound), or undefined once it is counted.
   * An admitted request must be {@link release}d exactly once.
   */
  admit(tenant: string): string | undefined {
    const holding = this.#tenants.get(tenant) ?? { requests: 0, records: 0 };
    if (holding.requests >= this.maxRequests) return `at most ${this.maxRequests} requests of one tenant at once`;
    if (holding.records >= this.maxRecords) return `at most ${this.maxRecords} records of one tenant awaiting Kafka at once`;
    holding.requests++;
    this.#tenants.set(tenant, holding);
    return undefined;
  }

  /** The end of a request {@link admit} counted. */
  release(tenant: string): void {
    const holding = this.#tenants.get(tenant);
    if (!holding) return;
    holding.requests--;
    this.#forgetIdle(tenant, holding);
  }

  /**
   * Count one record of `tenant` as awaiting Kafka: false (nothing counted)
   * when its records in flight are at their bound. A counted record must be
   * {@link settled} exactly once. Called only within an admitted request, so
   * the tenant's entry exists.
   */
  takeRecord(tenant: string): boolean {
    const holding = this.#tenants.get(tenant)!;
    if (holding.records >= this.maxRecords) return false;
    holding.records++;
    return true;
  }

  /** A record {@link takeRecord} counted was acknowledged or failed. */
  settled(tenant: string): void {
    const holding = this.#tenants.get(tenant);
    if (!holding) return;
    holding.records--;
    this.#forgetIdle(tenant, holding);
  }

  #forgetIdle(tenant: string, holding: Holding): void {
    if (holding.requests <= 0 && holding.records <= 0) this.#tenants.delete(tenant);
  }
}
