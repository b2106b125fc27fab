/**
 * HTTP to one REST Proxy v3 cluster for one security context: the requests
 * (with the context's `Authorization`), the readiness check, and the errors
 * an answer or a failed request becomes.
 *
 * Web-standard APIs only (`fetch`, `AbortController`, `setTimeout`), so it
 * runs on edge runtimes. Secrets: the `Authorization` value is built per
 * request by the context's {@link Authorizer} and goes nowhere else; every
 * message taken from a server or a `fetch` error is redacted before it
 * becomes part of an error.
 *
 * @module
 */
import { redact } from "../errors.ts";
import { messageOf } from "../_util.ts";
import { ERR__TIMED_OUT, ERR__TRANSPORT } from "../_kafka_codes.ts";

/** The `fetch` the driver calls: always with a URL string and an init. */
export type Fetch = (url: string, init: RequestInit) => Promise<Response>;

/**
 * A REST Proxy request failed or a record was refused. `status` and
 * `errorCode` are the HTTP status and REST Proxy's `error_code` when a server
 * answered; `code` is librdkafka's code of the same condition when it has one
 * (timed out, transport failure). The message never holds a secret.
 */
export class RestProxyError extends Error {
  /** Always `"RestProxyError"`. */
  override readonly name = "RestProxyError";
  /** HTTP status of the answer, when there was one. */
  readonly status?: number;
  /** REST Proxy's `error_code` (e.g. `40403`), when the answer had one. */
  readonly errorCode?: number;
  /** librdkafka's error code of the same condition, when there is one. */
  readonly code?: number;

  constructor(message: string, details: { status?: number; errorCode?: number; code?: number } = {}) {
    super(message);
    if (details.status !== undefined) this.status = details.status;
    if (details.errorCode !== undefined) this.errorCode = details.errorCode;
    if (details.code !== undefined) this.code = details.code;
  }
}

/**
 * The `Authorization` header of one context's requests: what a request needs
 * of the context's credentials. `_rest_auth.ts` makes one per kind of credentials.
 */
export interface Authorizer {
  /** The header's value for the next request; `undefined` without credentials. Rejects when no token could be had. */
  header(): Promise<string | undefined>;
  /** The REST Proxy answered 401: a token it fetched is fetched anew for the next request. */
  refused(): void;
  /** Every secret value held (passwords, tokens, the Basic header's base64), to redact messages with. */
  secrets(): readonly string[];
}

/** Where one context's requests go and how they authenticate. Owned by its producer client. */
export interface RestEndpoint {
  /** Base URL, without a trailing `/` (e.g. `https://host:443/kafka`). */
  readonly url: string;
  /** The cluster id of the paths. */
  readonly clusterId: string;
  /** The context's redacted description, for error messages. */
  readonly label: string;
  readonly fetch: Fetch;
  readonly auth: Authorizer;
}

/** `/v3/clusters/{id}` under the endpoint's URL, then `path`. */
export function clusterUrl(endpoint: RestEndpoint, path = ""): string {
  return `${endpoint.url}/v3/clusters/${encodeURIComponent(endpoint.clusterId)}${path}`;
}

/** `text` without any secret the endpoint's credentials hold. */
export function clean(endpoint: RestEndpoint, text: string): string {
  return redact(text, endpoint.auth.secrets());
}

/**
 * Send one request with the context's credentials. Rejects with a
 * {@link RestProxyError} (`ERR__TRANSPORT`) when no answer came, or with the
 * signal's reason when `signal` aborted it.
 */
export async function send(
  endpoint: RestEndpoint,
  method: "GET" | "POST",
  url: string,
  signal: AbortSignal,
  body?: Uint8Array<ArrayBuffer>,
): Promise<Response> {
  const headers: Record<string, string> = { Accept: "application/json" };
  const authorization = await endpoint.auth.header();
  if (authorization !== undefined) headers["Authorization"] = authorization;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  try {
    return await endpoint.fetch(url, { method, headers, signal, ...(body !== undefined && { body }) });
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    throw new RestProxyError(`Cannot reach the REST Proxy at ${url}: ${clean(endpoint, messageOf(error))}`, { code: ERR__TRANSPORT });
  }
}

/**
 * The error an unsuccessful answer stands for: its status, REST Proxy's
 * `error_code` and message from the body when it has them. A 401 also tells
 * the context's {@link Authorizer} its credentials were refused.
 */
export async function answerError(endpoint: RestEndpoint, response: Response, what: string): Promise<RestProxyError> {
  let errorCode: number | undefined;
  let message = "";
  try {
    const text = await response.text();
    try {
      const body = JSON.parse(text) as { error_code?: unknown; message?: unknown };
      if (typeof body.error_code === "number") errorCode = body.error_code;
      if (typeof body.message === "string") message = body.message;
    } catch {
      message = text.slice(0, 200);
    }
  } catch {
    // The body could not be read: the status says enough.
  }
  const status = `${response.status}${response.statusText ? ` ${response.statusText}` : ""}`;
  // Redacted before a 401 drops the refused token from the secrets.
  const detail = [errorCode === undefined ? "" : `error_code ${errorCode}`, clean(endpoint, message)].filter((s) => s !== "").join(": ");
  let hint = "";
  if (response.status === 401) {
    endpoint.auth.refused();
    hint = `; check the credentials of ${endpoint.label}`;
  } else if (response.status === 403) hint = `; ${endpoint.label} is not authorized`;
  return new RestProxyError(`${what}: the REST Proxy answered ${status}${detail ? ` (${detail})` : ""}${hint}`, {
    status: response.status,
    ...(errorCode !== undefined && { errorCode }),
  });
}

/**
 * Milliseconds a 429 or 503 asks to wait (`Retry-After`: seconds, or an
 * HTTP date); `undefined` when it gives none or one that cannot be read.
 */
export function retryAfterMs(response: Response): number | undefined {
  const value = response.headers.get("retry-after")?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : undefined;
}

/**
 * Readiness: `GET /v3/clusters/{id}` answered 2xx within `timeoutMs`.
 * Rejects with a {@link RestProxyError} naming the status (a 401 naming the
 * context whose credentials were refused), or that no answer came in time.
 */
export async function ping(endpoint: RestEndpoint, timeoutMs: number): Promise<void> {
  const url = clusterUrl(endpoint);
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new RestProxyError(`The REST Proxy at ${url} did not answer within ${timeoutMs} ms`, { code: ERR__TIMED_OUT })),
    timeoutMs,
  );
  try {
    const response = await send(endpoint, "GET", url, controller.signal);
    if (!response.ok) throw await answerError(endpoint, response, `GET ${url}`);
    await response.body?.cancel().catch(() => {}); // only the status matters; the connection is free for the next request
  } finally {
    clearTimeout(timer);
  }
}
