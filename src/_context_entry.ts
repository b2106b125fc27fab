/**
 * One security context as the registry holds it ({@link ContextEntry}): its
 * counters, its clients, and what keeps it busy; and its producer client as
 * the handle uses it ({@link trackedClient}).
 *
 * @module
 */
import type { ProducerClient } from "./driver.ts";
import { type HandleClient, type Producer, ProducerHandle } from "./producer.ts";
import type { ResolvedSecurityContext } from "./security_context.ts";
import { type Defaults, effectiveTuning } from "./_defaults.ts";
import { messageOf } from "./_util.ts";
import type { LruEntry } from "./_lru.ts";
import { TransactionalProducerHandle } from "./transaction.ts";

export interface Counters {
  description: string;
  clientsCreated: number;
  handlesReused: number;
  connectFailures: number;
  liveConsumers: number;
  forgottenRecords: number;
  forgottenFailures: number;
}

/** One security context the registry holds: its counters, its producer, and what keeps it busy. */
export class ContextEntry implements LruEntry {
  readonly resolved: ResolvedSecurityContext;
  /** Its key in the registry: the fingerprint, but for the case in {@link RegistryOptions.defaults}. */
  readonly key: string;
  /** Tuning in effect, the registry's defaults applied. */
  readonly producerTuning: Readonly<Record<string, string>>;
  readonly consumerTuning: Readonly<Record<string, string>>;
  readonly counters: Counters;
  handle?: ProducerHandle;
  /**
   * `Promise.resolve(handle)`, made once when the handle goes live and returned
   * to every later call: a warm lookup allocates nothing. Set and cleared
   * together with `handle` (retirement, eviction, close), so it never serves a
   * retired handle; a failed connect never sets it.
   */
  ready?: Promise<Producer>;
  client?: ProducerClient;
  connecting?: Promise<ProducerHandle>;
  failures = 0;
  retryAt = 0;
  /** Publishes and pings not settled on its producer. */
  inFlight = 0;
  /**
   * Connected and not used yet: its callers start publishing on their next
   * turn, and over the bound an idle context would go before they could.
   * Until the first publish or ping, or one turn of the event loop.
   */
  fresh = false;
  /** Consumers created and not closed: each keeps the context. */
  consumers = 0;
  /** Transactional producers by transactional id: live, or connecting. Each keeps the context. */
  readonly transactional = new Map<string, TransactionalSlot>();
  /** When its last work ended (`Date.now()`): idle since then. */
  lastUsed = 0;

  constructor(resolved: ResolvedSecurityContext, key: string, defaults: Defaults) {
    this.resolved = resolved;
    this.key = key;
    this.producerTuning = effectiveTuning(resolved, "producer", defaults);
    this.consumerTuning = effectiveTuning(resolved, "consumer", defaults);
    this.counters = {
      description: resolved.description,
      clientsCreated: 0,
      handlesReused: 0,
      connectFailures: 0,
      liveConsumers: 0,
      forgottenRecords: 0,
      forgottenFailures: 0,
    };
  }

  get busy(): boolean {
    return this.inFlight > 0 || this.fresh || this.connecting !== undefined || this.consumers > 0 || this.transactional.size > 0;
  }
}

/** One transactional producer of a context: connecting, then live until retired or closed. */
export interface TransactionalSlot {
  connecting?: Promise<TransactionalProducerHandle>;
  handle?: TransactionalProducerHandle;
  client?: ProducerClient;
}

/**
 * `client` as the handle uses it: its publishes (awaited or forgotten) and
 * pings keep the context busy until they settle. One set of callbacks per
 * client, none per publish. `done` is called as each settles;
 * `undelivered` for a forgotten record that was not delivered.
 */
export function trackedClient(
  entry: ContextEntry,
  client: ProducerClient,
  done: () => void,
  undelivered: (error: Error, topic: string) => void,
): HandleClient {
  const delivered = <T>(value: T): T => (done(), value);
  const failed = (error: unknown): never => {
    done();
    throw error;
  };
  /** The outcome of a forgotten record: the driver calls it (or, without `send`, its produce's promise). */
  const sent = (error: Error | undefined, topic: string): void => {
    done();
    if (error !== undefined) undelivered(error, topic);
  };
  // A driver that tells each settled record spares a promise per publish; counted before produce(),
  // which may settle the record before it returns.
  const told = client.onSettled !== undefined;
  client.onSettled?.(done);
  return {
    produce(record) {
      entry.fresh = false;
      if (told) {
        entry.inFlight++;
        return client.produce(record);
      }
      const sent = client.produce(record);
      entry.inFlight++;
      return sent.then(delivered, failed);
    },
    forget(record, done) {
      // A record with a `done` of its own (a traced one) is told its outcome too; others share `sent`.
      const outcome = done === undefined ? sent : (error: Error | undefined, topic: string) => {
        sent(error, topic);
        done(error);
      };
      if (client.send) {
        client.send(record, outcome); // throws what refuses the record: nothing to count then
      } else {
        client.produce(record).then(() => outcome(undefined, record.topic), (error: unknown) => outcome(asError(error), record.topic));
      }
      entry.inFlight++;
      entry.fresh = false;
      entry.counters.forgottenRecords++;
    },
    ping(timeoutMs) {
      const answered = client.ping(timeoutMs);
      entry.inFlight++;
      entry.fresh = false;
      return answered.then(delivered, failed);
    },
    flush: (timeoutMs) => client.flush(timeoutMs),
  };
}

/** A thrown value as an `Error` (a driver's rejection could be anything). */
export function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(messageOf(value));
}
