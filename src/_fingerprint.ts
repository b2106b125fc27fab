/**
 * What a normalised context is known by outside kshare's memory: its
 * fingerprint (the registry's key, 32 hex digits) and its description (for
 * logs and error messages). Neither holds a secret. The fingerprint is a hash
 * over the normalised context in which each secret is first replaced by an
 * HMAC under a random per-process key, so it cannot be used to guess a
 * secret offline; PEM certificates, not secret, are hashed plainly.
 *
 * @module
 */
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import type { NormalizedSecurityContext } from "./security_context.ts";

/**
 * Per-process HMAC key for secrets in fingerprints. Never leaves this module.
 * Drawn on first use, not at import: edge runtimes (Cloudflare Workers) refuse
 * random values at a module's top level.
 */
let secretKey: Uint8Array | undefined;
const maskSecret = (value: string) =>
  "hmac:" + bytesToHex(hmac(sha256, secretKey ??= crypto.getRandomValues(new Uint8Array(32)), utf8ToBytes(value))).slice(0, 32);
const digest = (value: string) => "sha256:" + bytesToHex(sha256(utf8ToBytes(value))).slice(0, 32);

/** Equal for contexts that normalise to the same, else different. */
export function computeFingerprint(ctx: NormalizedSecurityContext): string {
  const canonical = [
    ctx.bootstrapServers,
    ctx.securityProtocol,
    ctx.sasl?.mechanism === "OAUTHBEARER"
      ? [ctx.sasl.mechanism, ctx.sasl.clientId, maskSecret(ctx.sasl.clientSecret), ctx.sasl.tokenEndpointUrl, ctx.sasl.scope ?? null]
      : ctx.sasl
      ? [ctx.sasl.mechanism, ctx.sasl.username, maskSecret(ctx.sasl.password)]
      : null,
    ctx.tls
      ? [
        ctx.tls.ca ? digest(ctx.tls.ca) : null,
        ctx.tls.cert ? digest(ctx.tls.cert) : null,
        ctx.tls.key ? maskSecret(ctx.tls.key) : null,
        ctx.tls.keyPassword ? maskSecret(ctx.tls.keyPassword) : null,
        ctx.tls.verifyHostname,
      ]
      : null,
    ctx.isolation ?? null,
    ctx.clientId,
    Object.entries(ctx.producer),
    Object.entries(ctx.consumer),
  ];
  return bytesToHex(sha256(utf8ToBytes(JSON.stringify(canonical)))).slice(0, 32);
}

/** Protocol, servers, mechanism and user, TLS material present, isolation and client id; secrets as `[redacted]`. */
export function describe(ctx: NormalizedSecurityContext): string {
  const parts: string[] = [ctx.securityProtocol, ctx.bootstrapServers.join(",")];
  if (ctx.sasl?.mechanism === "OAUTHBEARER") {
    parts.push(`sasl=OAUTHBEARER client=${ctx.sasl.clientId} secret=[redacted]`);
  } else if (ctx.sasl) {
    parts.push(`sasl=${ctx.sasl.mechanism} user=${ctx.sasl.username} password=[redacted]`);
  }
  if (ctx.tls) {
    parts.push(
      `tls(ca=${ctx.tls.ca ? "pem" : "system"}${ctx.tls.cert ? " cert=pem" : ""}${ctx.tls.key ? " key=[redacted]" : ""}` +
        `${ctx.tls.verifyHostname ? "" : " verifyHostname=false"})`,
    );
  }
  if (ctx.isolation) parts.push(`isolation=${ctx.isolation}`);
  parts.push(`client=${ctx.clientId}`);
  return parts.join(" ");
}
