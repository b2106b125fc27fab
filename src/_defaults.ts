/**
 * A registry's defaults: librdkafka tuning every context of the registry
 * inherits, and topic settings every topic consumed through it inherits.
 * Precedence, highest first: the topic's own setting, the context's own,
 * the registry's defaults, kshare's defaults.
 *
 * Fingerprints do not change: a context's fingerprint covers what it wrote
 * over kshare's defaults, and every context of one registry inherits the
 * same registry defaults. One case needs more: a context that writes a
 * property with kshare's default value (`acks: "all"`) has the fingerprint
 * of one that leaves it out, yet only the second inherits the registry's
 * default for it. Such a context gets a registry key of its own
 * ({@link contextKey}); every other context's key is its fingerprint.
 *
 * @module
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import type { ResolvedSecurityContext, TuningProperties } from "./security_context.ts";
import { spelledOutDefaults } from "./resolve_security_context.ts";
import { CONSUMER_DEFAULTS, parseTuning, PRODUCER_DEFAULTS, withDefaults } from "./_tuning.ts";
import { DEFAULT_MAX_BUFFERED_MESSAGES, type TopicConsumerSettings } from "./topic.ts";
import { isPlainObject } from "./_util.ts";

/** `RegistryOptions.defaults` as written. */
export interface DefaultsOption {
  readonly producer?: TuningProperties;
  readonly consumer?: TuningProperties;
  readonly topic?: Partial<TopicConsumerSettings>;
}

/** A registry's defaults, validated and normalised. */
export interface Defaults {
  /** Producer tuning over kshare's defaults, values as strings. */
  readonly producer: Readonly<Record<string, string>>;
  /** Consumer tuning over kshare's defaults. */
  readonly consumer: Readonly<Record<string, string>>;
  /** The bound of a topic whose definition sets none. */
  readonly maxBufferedMessages: number;
  /**
   * Whether a context can write a property with kshare's default value that
   * these defaults set otherwise: only then may a key differ from a fingerprint.
   */
  readonly overridesKshare: boolean;
}

/** Validate `RegistryOptions.defaults`: a `TypeError` naming what was wrong. */
export function parseDefaults(option: DefaultsOption | undefined): Defaults {
  if (option !== undefined && !isPlainObject(option)) throw new TypeError("defaults must be an object of producer, consumer and topic settings");
  for (const name of Object.keys(option ?? {})) {
    if (name !== "producer" && name !== "consumer" && name !== "topic") {
      throw new TypeError(`defaults.${name}: unknown field (expected producer, consumer or topic)`);
    }
  }
  const producer = normalised(parseTuning("defaults.producer", option?.producer));
  const consumer = normalised(parseTuning("defaults.consumer", option?.consumer));
  const topic = option?.topic ?? {};
  if (!isPlainObject(topic)) throw new TypeError("defaults.topic must be an object of topic consumer settings");
  for (const name of Object.keys(topic)) {
    if (name !== "maxBufferedMessages") throw new TypeError(`defaults.topic.${name}: unknown field (expected maxBufferedMessages)`);
  }
  const maxBufferedMessages: unknown = (topic as Partial<TopicConsumerSettings>).maxBufferedMessages ?? DEFAULT_MAX_BUFFERED_MESSAGES;
  if (typeof maxBufferedMessages !== "number" || !Number.isSafeInteger(maxBufferedMessages) || maxBufferedMessages < 1) {
    throw new TypeError(`defaults.topic.maxBufferedMessages must be a positive integer, got ${String(maxBufferedMessages)}`);
  }
  return {
    producer,
    consumer,
    maxBufferedMessages,
    overridesKshare: overrides(producer, PRODUCER_DEFAULTS) || overrides(consumer, CONSUMER_DEFAULTS),
  };
}

/** Tuning as a context's normalises (`acks=-1` is `all`), unsorted. */
function normalised(tuning: Record<string, string>): Readonly<Record<string, string>> {
  return tuning["acks"] === "-1" ? { ...tuning, acks: "all" } : tuning;
}

function overrides(tuning: Readonly<Record<string, string>>, kshare: Readonly<Record<string, string>>): boolean {
  return Object.keys(tuning).some((name) => name in kshare && tuning[name] !== kshare[name]);
}

/**
 * The tuning `resolved`'s clients get: the context's own over the registry's
 * defaults over kshare's, sorted. The registry's default of a property
 * applies unless the context wrote the property itself.
 */
export function effectiveTuning(
  resolved: ResolvedSecurityContext,
  kind: "producer" | "consumer",
  defaults: Defaults,
): Readonly<Record<string, string>> {
  const own = resolved.context[kind];
  const fromRegistry = defaults[kind];
  const kshare = kind === "producer" ? PRODUCER_DEFAULTS : CONSUMER_DEFAULTS;
  const spelled = spelledOutDefaults(resolved)?.[kind] ?? [];
  const inherited: Record<string, string> = {};
  for (const name of Object.keys(fromRegistry)) {
    // A property kshare has a default for is in every normalised context: it is the context's only if written.
    const written = name in kshare ? spelled.includes(name) : name in own;
    if (!written) inherited[name] = fromRegistry[name]!;
  }
  return Object.freeze(withDefaults(own, inherited));
}

/**
 * The registry key of `resolved`: its fingerprint, unless it wrote a
 * property with kshare's default value that the registry's defaults set
 * otherwise (it keeps kshare's value, where a context of the same
 * fingerprint that left the property out inherits the registry's): then a
 * hash of the fingerprint and those properties' names.
 */
export function contextKey(resolved: ResolvedSecurityContext, defaults: Defaults): string {
  if (!defaults.overridesKshare) return resolved.fingerprint;
  const spelled = spelledOutDefaults(resolved);
  if (spelled === undefined) return resolved.fingerprint;
  const kept = (kind: "producer" | "consumer", kshare: Readonly<Record<string, string>>) =>
    spelled[kind].filter((name) => {
      const registry = defaults[kind][name];
      return registry !== undefined && registry !== kshare[name] && resolved.context[kind][name] === kshare[name];
    }).sort();
  const producer = kept("producer", PRODUCER_DEFAULTS);
  const consumer = kept("consumer", CONSUMER_DEFAULTS);
  if (producer.length === 0 && consumer.length === 0) return resolved.fingerprint;
  return bytesToHex(sha256(utf8ToBytes(JSON.stringify([resolved.fingerprint, producer, consumer])))).slice(0, 32);
}
