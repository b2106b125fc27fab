/**
 * The `Authorization` of one context's REST Proxy requests:
 *
 * - a username and password (a context's SASL PLAIN, or the driver's
 *   `auth: { username, password }`) → HTTP Basic;
 * - a context's SASL OAUTHBEARER, OIDC client credentials as librdkafka runs
 *   them (`sasl.oauthbearer.method=oidc`) → a token from its token endpoint,
 *   sent as Bearer;
 * - the driver's `auth: { token }` → Bearer with that token (a function is
 *   called for each request, so it can hand out a fresh one).
 *
 * Lifetimes: a token fetched here is kept until 80% of its `expires_in` has
 * passed (where librdkafka refreshes it too; without `expires_in`, until the
 * REST Proxy refuses it) or the REST Proxy answered 401; the requests waiting
 * for a token share one token request. Secrets stay in this module's
 * closures; {@link Authorizer.secrets} lists them for redaction only.
 *
 * @module
 */
import { redact } from "../errors.ts";
import { messageOf, toBase64 } from "../_util.ts";
import { ERR__TRANSPORT } from "../_kafka_codes.ts";
import { type Authorizer, type Fetch, RestProxyError } from "./_rest_http.ts";

/** Credentials of one context, as the driver read them from its config or options. */
export type Credentials =
  | { readonly kind: "none" }
  | { readonly kind: "basic"; readonly username: string; readonly password: string }
  | { readonly kind: "token"; readonly token: string | (() => string | Promise<string>) }
  | {
    readonly kind: "oidc";
    readonly clientId: string;
    readonly clientSecret: string;
    readonly tokenEndpointUrl: string;
    readonly scope?: string;
  };

/** Bound on one token request. */
const TOKEN_TIMEOUT_MS = 10_000;
/** Share of a token's lifetime after which it is fetched anew. */
const REFRESH_AT = 0.8;

const encoder = new TextEncoder();
const basic = (username: string, password: string) => toBase64(encoder.encode(`${username}:${password}`));

/** The {@link Authorizer} of `credentials`; tokens are fetched with `fetch`. */
export function authorizer(credentials: Credentials, fetch: Fetch): Authorizer {
  switch (credentials.kind) {
    case "none":
      return { header: () => Promise.resolve(undefined), refused: () => {}, secrets: () => [] };
    case "basic": {
      const encoded = basic(credentials.username, credentials.password);
      const header = Promise.resolve(`Basic ${encoded}`);
      const secrets = [credentials.password, encoded];
      return { header: () => header, refused: () => {}, secrets: () => secrets };
    }
    case "token": {
      const { token } = credentials;
      let last = typeof token === "string" ? token : "";
      return {
        header: async () => `Bearer ${last = typeof token === "string" ? token : await token()}`,
        refused: () => {},
        secrets: () => (last ? [last] : []),
      };
    }
    case "oidc":
      return oidcAuthorizer(credentials, fetch);
  }
}

function oidcAuthorizer(credentials: Extract<Credentials, { kind: "oidc" }>, fetch: Fetch): Authorizer {
  const { clientId, clientSecret, tokenEndpointUrl, scope } = credentials;
  // RFC 6749 2.3.1: the client id and secret are form-encoded, then sent as HTTP Basic.
  const clientAuth = basic(encodeURIComponent(clientId), encodeURIComponent(clientSecret));
  let token: { readonly value: string; readonly refreshAt: number } | undefined;
  let fetching: Promise<string> | undefined;
  const secrets = () => (token ? [clientSecret, clientAuth, token.value] : [clientSecret, clientAuth]);

  async function fetchToken(): Promise<string> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), TOKEN_TIMEOUT_MS);
    const form = new URLSearchParams({ grant_type: "client_credentials", ...(scope !== undefined && { scope }) });
    const what = `Cannot get an OAuth token for client ${clientId} from ${tokenEndpointUrl}`;
    let response: Response;
    try {
      response = await fetch(tokenEndpointUrl, {
        method: "POST",
        headers: {
          Authorization: `Basic ${clientAuth}`,
          "Content-Type": "application/x-www-form-urlencoded",
          Accept: "application/json",
        },
        body: form.toString(),
        signal: controller.signal,
      });
    } catch (error) {
      const reason = controller.signal.aborted ? `no answer within ${TOKEN_TIMEOUT_MS} ms` : redact(messageOf(error), secrets());
      throw new RestProxyError(`${what}: ${reason}`, { code: ERR__TRANSPORT });
    } finally {
      clearTimeout(timer);
    }
    let body: { access_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown } = {};
    try {
      body = await response.json();
    } catch {
      // Not JSON: the status says what went wrong, or the missing token below does.
    }
    if (!response.ok) {
      const detail = [body.error, body.error_description].filter((s) => typeof s === "string").join(": ");
      throw new RestProxyError(`${what}: the token endpoint answered ${response.status}${detail ? ` (${redact(detail, secrets())})` : ""}`, {
        status: response.status,
      });
    }
    if (typeof body.access_token !== "string" || body.access_token === "") {
      throw new RestProxyError(`${what}: the token endpoint's answer has no access_token`);
    }
    const lifetime = typeof body.expires_in === "number" && body.expires_in > 0 ? body.expires_in * 1000 * REFRESH_AT : Infinity;
    token = { value: body.access_token, refreshAt: Date.now() + lifetime };
    return token.value;
  }

  return {
    header() {
      if (token && Date.now() < token.refreshAt) return Promise.resolve(`Bearer ${token.value}`);
      fetching ??= fetchToken().finally(() => (fetching = undefined));
      return fetching.then((value) => `Bearer ${value}`);
    },
    refused() {
      token = undefined;
    },
    secrets,
  };
}
