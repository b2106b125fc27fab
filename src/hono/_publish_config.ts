/**
 * The checked options of one `publishRoutes` app and the state all its
 * requests share (its tenants' bounds, its turns of streaming work): made
 * once per app by {@link publishConfig}, owned by that app, passed to each
 * function of a request.
 *
 * @module
 */
import { type Logger, MAX_TIMER_MS } from "../_util.ts";
import { DEFAULT_RETRY_AFTER_SECONDS } from "./errors.ts";
import {
  DEFAULT_MAX_BATCH_ENTRIES,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_PUBLISH_TIMEOUT_MS,
  MAX_BATCH_ENTRIES,
  type PublishRoutesOptions,
} from "./publish_routes_options.ts";
import type { AnyTopic } from "./records.ts";
import type { RecordOutcome } from "./responses.ts";
import { type BodyLimits, bodyLimits } from "./_request_body.ts";
import { TenantLimits } from "./_tenant_limits.ts";
import { Turns } from "./_turns.ts";

// Defaults of the per-tenant bounds; the numbers are written in PublishRoutesOptions' docs and the README.
const DEFAULT_MAX_REQUESTS_PER_TENANT = 256;
const DEFAULT_MAX_RECORDS_IN_FLIGHT_PER_TENANT = 20_000;
const DEFAULT_MAX_RECORDS_PER_REQUEST = 10_000;
const DEFAULT_BODY_TIMEOUT_MS = 30_000;

/**
 * Length of a turn of streaming work, in ms. Short, so that one turn per
 * stream under way, between two polls of I/O, is still a short wait for
 * another tenant's request.
 */
const TURN_MS = 1;

/** One app's options, defaults applied, and its shared state. */
export interface PublishConfig {
  /** The cluster id of the paths. */
  readonly clusterId: string;
  /** The topics that can be published to, by name. */
  readonly topics: ReadonlyMap<string, AnyTopic>;
  /** Most entries of one `records:batch` request. */
  readonly maxBatchEntries: number;
  /** `Retry-After` of a 503 and of a 429, in seconds. */
  readonly retryAfterSeconds: number;
  /** Delivery deadline of every publish, in ms. */
  readonly publishTimeoutMs: number;
  /** Most records of one tenant awaiting Kafka's acknowledgement at once. */
  readonly maxRecordsInFlight: number;
  /** Most records of one streaming request. */
  readonly maxRecordsPerRequest: number;
  /** Where unexpected errors are reported. */
  readonly logger: Logger;
  /** The body bounds of every produce request. */
  readonly body: BodyLimits;
  /** Requests and records in flight, per tenant. */
  readonly limits: TenantLimits;
  /** Turns of every streaming request's work. */
  readonly turns: Turns;
  /** The answer of a record refused at its tenant's bound on records in flight (one promise: a stream ends at it). */
  readonly refusedRecord: Promise<RecordOutcome>;
}

/** `options` checked (a `TypeError` naming the first option out of range), with defaults applied. */
export function publishConfig(options: PublishRoutesOptions): PublishConfig {
  const clusterId = options.clusterId ?? "kshare";
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const maxBatchEntries = options.maxBatchEntries ?? DEFAULT_MAX_BATCH_ENTRIES;
  const retryAfterSeconds = options.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS;
  const publishTimeoutMs = options.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS;
  const maxRequestsPerTenant = options.maxRequestsPerTenant ?? DEFAULT_MAX_REQUESTS_PER_TENANT;
  const maxRecordsInFlight = options.maxRecordsInFlightPerTenant ?? DEFAULT_MAX_RECORDS_IN_FLIGHT_PER_TENANT;
  const maxRecordsPerRequest = options.maxRecordsPerRequest ?? DEFAULT_MAX_RECORDS_PER_REQUEST;
  const bodyTimeoutMs = options.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
  for (
    const [name, value] of [
      ["maxRequestsPerTenant", maxRequestsPerTenant],
      ["maxRecordsInFlightPerTenant", maxRecordsInFlight],
      ["maxRecordsPerRequest", maxRecordsPerRequest],
    ] as const
  ) {
    if (!Number.isSafeInteger(value) || value < 1) throw new TypeError(`${name} must be a positive integer, got ${value}`);
  }
  if (!Number.isInteger(bodyTimeoutMs) || bodyTimeoutMs < 1 || bodyTimeoutMs > MAX_TIMER_MS) {
    throw new TypeError(`bodyTimeoutMs must be an integer from 1 to ${MAX_TIMER_MS}, got ${bodyTimeoutMs}`);
  }
  if (!Number.isInteger(publishTimeoutMs) || publishTimeoutMs < 1 || publishTimeoutMs > MAX_TIMER_MS) {
    throw new TypeError(`publishTimeoutMs must be an integer from 1 to ${MAX_TIMER_MS}, got ${publishTimeoutMs}`);
  }
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 1) {
    throw new TypeError(`maxBodyBytes must be a positive integer, got ${maxBodyBytes}`);
  }
  if (!Number.isInteger(maxBatchEntries) || maxBatchEntries < 1 || maxBatchEntries > MAX_BATCH_ENTRIES) {
    throw new TypeError(`maxBatchEntries must be an integer from 1 to ${MAX_BATCH_ENTRIES}, got ${maxBatchEntries}`);
  }
  const topics = new Map(options.topics.map((t) => [t.name, t]));
  if (topics.size !== options.topics.length) throw new TypeError("publishRoutes: topic names must be unique");
  if (topics.size === 0) throw new TypeError("publishRoutes: needs at least one topic");
  return {
    clusterId,
    topics,
    maxBatchEntries,
    retryAfterSeconds,
    publishTimeoutMs,
    maxRecordsInFlight,
    maxRecordsPerRequest,
    logger: options.logger ?? console,
    body: bodyLimits(maxBodyBytes, bodyTimeoutMs),
    limits: new TenantLimits(maxRequestsPerTenant, maxRecordsInFlight),
    turns: new Turns(TURN_MS),
    refusedRecord: Promise.resolve({
      status: 429,
      body: { error_code: 429, message: `Too many records: at most ${maxRecordsInFlight} of one tenant awaiting Kafka at once` },
      retryAfterSeconds,
    }),
  };
}
