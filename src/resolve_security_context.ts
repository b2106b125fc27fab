/**
 * Resolving a security context: validated and normalised by the schema, with
 * its fingerprint and redacted description. Two contexts share connections
 * exactly when their fingerprints are equal. Resolving is on every
 * `registry.producer(ctx)`, so it is cached: by object identity, then by
 * shape (`_shape_cache.ts`).
 *
 * @module
 */
import * as v from "valibot";
import { type ContextProblem, InvalidSecurityContextError, issuePath } from "./errors.ts";
import { type ResolvedSecurityContext, type SecurityContext, SecurityContextSchema } from "./security_context.ts";
import { CONSUMER_DEFAULTS, PRODUCER_DEFAULTS } from "./_tuning.ts";
import { computeFingerprint, describe } from "./_fingerprint.ts";
import { addByShape, findByShape, shapeOf } from "./_shape_cache.ts";

/**
 * Identity cache: the common case passes the same context object again and
 * again. Only objects that were parsed are added; an equal object found in the
 * shape cache is not (a context built per request would add an entry per
 * request, for the garbage collector to sweep). Context objects are treated as
 * immutable: whether a change made in place after first use is seen is undefined.
 */
const resolved = new WeakMap<object, ResolvedSecurityContext>();

/**
 * Validate and normalise a security context, computing its fingerprint and a
 * redacted description. Throws {@link InvalidSecurityContextError} naming
 * every bad field (never a received value).
 *
 * @example
 * ```ts
 * import { resolveSecurityContext } from "@kshare/kshare";
 * const a = resolveSecurityContext({ bootstrapServers: "b:9092,a:9092" });
 * const b = resolveSecurityContext({ bootstrapServers: ["a:9092", "b:9092"], securityProtocol: "PLAINTEXT" });
 * console.log(a.fingerprint === b.fingerprint); // true
 * console.log(a.description); // "PLAINTEXT a:9092,b:9092 client=kshare"
 * ```
 */
export function resolveSecurityContext(input: SecurityContext): ResolvedSecurityContext {
  // Kept this small so engines inline it: a `WeakMap` hit is the common case (`get` of a non-object is `undefined`).
  return resolved.get(input) ?? resolveUncached(input);
}

function resolveUncached(input: SecurityContext): ResolvedSecurityContext {
  if (typeof input !== "object" || input === null) return parse(input);
  const shape = shapeOf(input);
  const cached = shape === undefined ? undefined : findByShape(shape);
  if (cached) return cached;
  const out = parse(input);
  resolved.set(input, out);
  if (shape !== undefined) addByShape(shape, out);
  return out;
}

function parse(input: unknown): ResolvedSecurityContext {
  const result = v.safeParse(SecurityContextSchema, input);
  if (!result.success) throw new InvalidSecurityContextError(result.issues.map(toProblem));
  const ctx = result.output;
  const out: ResolvedSecurityContext = Object.freeze({
    fingerprint: computeFingerprint(ctx),
    description: describe(ctx),
    context: ctx,
  });
  const written = input as SecurityContext;
  const producer = Object.keys(written.producer ?? {}).filter((name) => name in PRODUCER_DEFAULTS);
  const consumer = Object.keys(written.consumer ?? {}).filter((name) => name in CONSUMER_DEFAULTS);
  if (producer.length > 0 || consumer.length > 0) spelledOut.set(out, { producer, consumer });
  return out;
}

/**
 * Per resolved context that wrote any: the properties with a kshare default
 * it set itself, whatever their value. The fingerprint cannot tell a
 * property written with kshare's default value from one left out; a
 * registry's defaults can (see `_defaults.ts`).
 */
const spelledOut = new WeakMap<ResolvedSecurityContext, SpelledOut>();

/** Names of the properties with a kshare default a context wrote itself. */
export interface SpelledOut {
  readonly producer: readonly string[];
  readonly consumer: readonly string[];
}

/** The properties with a kshare default that `resolved`'s context wrote itself; undefined when none. */
export function spelledOutDefaults(resolved: ResolvedSecurityContext): SpelledOut | undefined {
  return spelledOut.get(resolved);
}

/** A problem without the received value: valibot's type messages quote it, so they are rebuilt here. */
function toProblem(issue: v.BaseIssue<unknown>): ContextProblem {
  const path = issuePath(issue) || "(context)";
  if (issue.kind === "schema" && issue.expected === "never") return { path, message: "unknown field" };
  return { path, message: issue.message.replace(/ but received .*$/s, "") };
}
