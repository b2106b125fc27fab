/**
 * librdkafka tuning as kshare takes it, in a context's `producer` and
 * `consumer` fields and in a registry's defaults: which properties it may
 * not set, kshare's own defaults, and the normal form (values as strings,
 * defaults spelled out, names sorted) in which equal tuning is equal.
 *
 * @module
 */
import * as v from "valibot";
import { issuePath } from "./errors.ts";

/**
 * Properties owned by the context's own fields (and `transactional.id` by
 * `transactionalProducer()`: in tuning it would make the shared producer
 * transactional, refusing every publish made outside a transaction); tuning
 * may not set them.
 */
const RESERVED =
  /^(bootstrap\.servers|metadata\.broker\.list|security\.protocol|sasl\..*|ssl\..*|ssl_.*|client\.id|group\.id|transactional\.id|enable\.auto\.offset\.store|.*_cb)$/;

/**
 * kshare's producer defaults: durable and ordered (`acks=all`, idempotence),
 * and no linger: a publish is awaited by its caller, so librdkafka's default
 * 5 ms linger would be 5 ms added to every lone publish. Records still batch
 * whenever they accumulate while a request is in flight. Tuning overrides them.
 */
export const PRODUCER_DEFAULTS: Readonly<Record<string, string>> = { "acks": "all", "enable.idempotence": "true", "linger.ms": "0" };

/**
 * kshare's consumer defaults. Offsets are stored only after a handler
 * succeeded (`enable.auto.offset.store=false`) and committed by librdkafka's
 * auto-commit and on close: at-least-once. A new group starts at the earliest offset.
 *
 * `fetch.queue.backoff.ms` 50 (librdkafka's default is 1000): once the
 * consumer's local queue is over `queued.min.messages`, librdkafka waits
 * this long before it fetches the partition again. kshare's poll loop empties
 * that queue in a fraction of that, so with librdkafka's default a backlog was
 * read in bursts a second apart: about 120,000 records a second on every
 * runtime, half of KafkaJS's rate (bench/consume_throughput.ts). The queue's
 * bounds, and so its memory, are unchanged.
 */
export const CONSUMER_DEFAULTS: Readonly<Record<string, string>> = { "auto.offset.reset": "earliest", "fetch.queue.backoff.ms": "50" };

/** valibot schema of tuning as written: librdkafka names to values, none reserved; parsed to string values. */
export const Tuning = v.pipe(
  v.record(
    v.string(),
    v.union([v.string(), v.number(), v.boolean()], "expected a string, number or boolean librdkafka value"),
    "expected an object of librdkafka properties",
  ),
  v.check(
    (props) => Object.keys(props).every((k) => !RESERVED.test(k)),
    "security, client.id and group.id are set through the context's own fields, transactional.id through transactionalProducer(), not tuning",
  ),
  v.transform((props) => Object.fromEntries(Object.entries(props).map(([k, val]) => [k, String(val)]))),
);

/**
 * librdkafka tuning given outside a context (a registry's defaults),
 * normalised as a context's is (values as strings); a `TypeError` naming
 * `path` and what was wrong, never a value.
 */
export function parseTuning(path: string, input: unknown): Record<string, string> {
  const result = v.safeParse(Tuning, input ?? {});
  if (result.success) return result.output;
  const problems = result.issues.map((issue) => {
    const at = issuePath(issue);
    return `${at ? `${path}.${at}` : path}: ${issue.message.replace(/ but received .*$/s, "")}`;
  });
  throw new TypeError(problems.join("; "));
}

/** Defaults spelled out and keys sorted, so equal tuning is equal however it was written. */
export function withDefaults(defaults: Readonly<Record<string, string>>, props: Record<string, string>): Record<string, string> {
  const merged: Record<string, string> = { ...defaults, ...props };
  if (merged["acks"] === "-1") merged["acks"] = "all";
  return Object.fromEntries(Object.entries(merged).sort(([a], [b]) => a < b ? -1 : 1));
}
