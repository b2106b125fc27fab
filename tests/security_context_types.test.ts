/**
 * The hand-written `SecurityContext` (the schema's declared input, carrying
 * the docs) against valibot's inference from the schema itself: equal up to
 * `readonly`, which valibot does not infer. The assertion is compile-time
 * (`npm run check` type-checks tests/); the runtime test only makes the file
 * a test on every runtime.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { type SecurityContext, SecurityContextSchema } from "../mod.ts";
import type { InferredSecurityContext } from "../src/security_context.ts";

/** `true` only when A and B are the same type (not merely assignable either way). */
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;

/** `readonly` on every property and array, at every depth. */
type DeepReadonly<T> = T extends readonly (infer U)[] ? readonly DeepReadonly<U>[]
  : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
  : T;

const inputMatchesSchema: Equals<DeepReadonly<SecurityContext>, DeepReadonly<InferredSecurityContext>> = true;

test("SecurityContext is the schema's inferred input", () => {
  assert.equal(inputMatchesSchema, true);
  // Every field the type allows, through the schema at run time too.
  const ctx: SecurityContext = {
    bootstrapServers: ["a:9093"],
    securityProtocol: "SASL_SSL",
    sasl: { mechanism: "OAUTHBEARER", clientId: "c", clientSecret: "s", tokenEndpointUrl: "https://idp.example/token", scope: "kafka" },
    tls: { ca: "ca", cert: "cert", key: "key", keyPassword: "pw", verifyHostname: false },
    isolation: "i",
    clientId: "svc",
    producer: { "linger.ms": 5 },
    consumer: { "fetch.min.bytes": 1 },
  };
  assert.deepEqual(v.parse(SecurityContextSchema, ctx).sasl, ctx.sasl);
});
