/**
 * Shape cache, for equal contexts built anew per call (e.g. per request): a
 * context written the same way as one resolved before, with the same
 * secrets, is that one's result, found without parsing. Secrets are never
 * part of a key: they are compared, in time that depends on their length only.
 * Module-level state, one per process, bounded (see `shapes`).
 *
 * @module
 */
import type { OAuthBearerSasl, PasswordSasl, ResolvedSecurityContext, SecurityContext } from "./security_context.ts";
import { isPlainObject } from "./_util.ts";

/** One context resolved under a shape, with the secrets it was written with. */
interface ShapeEntry {
  readonly password: string | undefined;
  readonly clientSecret: string | undefined;
  readonly tlsKey: string | undefined;
  readonly tlsKeyPassword: string | undefined;
  readonly resolved: ResolvedSecurityContext;
}

/**
 * A step of a shape path: a value as written (a `Map` key keeps its type, so
 * `"5"` and `5` differ), a field name, or a marker.
 */
type Step = string | number | boolean | symbol | undefined;
/** Markers in a shape path: symbols, so no value written in a context can equal one. */
const LIST = Symbol("list"), OBJECT = Symbol("object"), END = Symbol("end");

interface ShapeNode {
  next?: Map<Step, ShapeNode>;
  entries?: ShapeEntry[];
}

/**
 * The cache: a trie of `Map`s over the context's {@link shapePath}, every non-secret field
 * as written. No key string is built: a field's string is a key as it is, so
 * a string passed again (from configuration, a literal) is found by the hash
 * the engine keeps on it. Secrets are never part of a path: the entries at
 * one path are told apart by comparing secrets. Bounded: at most
 * `MAX_PER_SHAPE` entries per path (the oldest goes); cleared when it would
 * hold more than `MAX_SHAPE_ENTRIES` entries or `MAX_SHAPE_NODES` nodes.
 */
let shapes: ShapeNode = {};
let shapeNodes = 0;
let shapeEntries = 0;
const MAX_SHAPE_NODES = 16_384;
const MAX_SHAPE_ENTRIES = 1024;
const MAX_PER_SHAPE = 16;

type AnySasl = Partial<PasswordSasl> & Partial<Omit<OAuthBearerSasl, "mechanism">>;

/*
 * Shape paths: a context's non-secret fields, in a fixed order, each value
 * as written. A list is a marker and its length, an object a marker, its
 * entries and an end marker, so a path is read back one way only: two paths are equal only when every field was written
 * the same way, with the same types. Fields are read by name, as the schema
 * reads them; enumeration only rejects names the schema does not know, and,
 * in SASL, records which names are present (that decides which mechanism's
 * schema accepts it). Anything a path does not cover (an unknown field, a
 * class instance, a value of an unexpected type) makes `shapePath` return
 * `undefined`: that context is parsed instead, and the schema says what is wrong.
 */

/** A string field or its absence. */
function pushText(path: Step[], value: unknown): boolean {
  if (typeof value !== "string" && value !== undefined) return false;
  path.push(value);
  return true;
}

function pushServers(path: Step[], value: unknown): boolean {
  if (typeof value === "string") {
    path.push(value);
    return true;
  }
  if (!Array.isArray(value)) return false;
  path.push(LIST, value.length);
  for (let i = 0; i < value.length; i++) {
    const server: unknown = value[i];
    if (typeof server !== "string") return false;
    path.push(server);
  }
  return true;
}

/** An optional field left out. */
function pushAbsent(path: Step[]): true {
  path.push(undefined);
  return true;
}

/** Tuning as written: name, value (string, number or boolean) per property. */
function pushTuning(path: Step[], value: unknown): boolean {
  if (value === undefined) return pushAbsent(path);
  if (!isPlainObject(value)) return false;
  path.push(OBJECT);
  for (const name in value) {
    const v = value[name];
    if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") return false;
    path.push(name, v);
  }
  path.push(END);
  return true;
}

/** SASL: the names written (secrets' too, not their values), then the non-secret values. */
function pushSasl(path: Step[], value: unknown): boolean {
  if (value === undefined) return pushAbsent(path);
  if (!isPlainObject(value)) return false;
  path.push(OBJECT);
  for (const name in value) {
    switch (name) {
      case "mechanism":
      case "username":
      case "password":
      case "clientId":
      case "clientSecret":
      case "tokenEndpointUrl":
      case "scope":
        path.push(name);
        break;
      default:
        return false;
    }
  }
  path.push(END);
  return pushText(path, value.mechanism) && pushText(path, value.username) && pushText(path, value.clientId) &&
    pushText(path, value.tokenEndpointUrl) && pushText(path, value.scope);
}

/** TLS: the non-secret values; the private key and its passphrase are compared apart. */
function pushTls(path: Step[], value: unknown): boolean {
  if (value === undefined) return pushAbsent(path);
  if (!isPlainObject(value)) return false;
  for (const name in value) {
    if (name !== "ca" && name !== "cert" && name !== "key" && name !== "keyPassword" && name !== "verifyHostname") return false;
  }
  const verify = value.verifyHostname;
  if (typeof verify !== "boolean" && verify !== undefined) return false;
  path.push(OBJECT, verify);
  return pushText(path, value.ca) && pushText(path, value.cert);
}

/** The shape path of a context as written, without its secrets; `undefined` when it must be parsed. */
function shapePath(c: object): Step[] | undefined {
  if (!isPlainObject(c)) return undefined;
  for (const name in c) {
    switch (name) {
      case "bootstrapServers":
      case "securityProtocol":
      case "sasl":
      case "tls":
      case "isolation":
      case "clientId":
      case "producer":
      case "consumer":
        break;
      default:
        return undefined;
    }
  }
  const path: Step[] = [];
  const ok = pushServers(path, c.bootstrapServers) && pushText(path, c.securityProtocol) && pushText(path, c.isolation) &&
    pushText(path, c.clientId) && pushSasl(path, c.sasl) && pushTls(path, c.tls) && pushTuning(path, c.producer) &&
    pushTuning(path, c.consumer);
  return ok ? path : undefined;
}

/** A context as the cache sees it: its shape path and the secrets it was written with. */
export interface Shape {
  readonly path: readonly Step[];
  readonly password: string | undefined;
  readonly clientSecret: string | undefined;
  readonly tlsKey: string | undefined;
  readonly tlsKeyPassword: string | undefined;
}

/** The shape of a context as written; `undefined` when it must be parsed. */
export function shapeOf(context: SecurityContext): Shape | undefined {
  const path = shapePath(context);
  if (path === undefined) return undefined;
  // Read only when there is a path: then `sasl` and `tls` are plain objects or absent.
  const sasl = context.sasl as AnySasl | undefined;
  const tls = context.tls;
  return { path, password: sasl?.password, clientSecret: sasl?.clientSecret, tlsKey: tls?.key, tlsKeyPassword: tls?.keyPassword };
}

/** The context resolved before under `shape`'s path with the same secrets, if the cache still holds it. */
export function findByShape(shape: Shape): ResolvedSecurityContext | undefined {
  const entries = findShape(shape.path);
  if (!entries) return undefined;
  const { password, clientSecret, tlsKey, tlsKeyPassword } = shape;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    if (
      (sameSecret(entry.password, password) & sameSecret(entry.clientSecret, clientSecret) &
        sameSecret(entry.tlsKey, tlsKey) & sameSecret(entry.tlsKeyPassword, tlsKeyPassword)) === 1
    ) return entry.resolved;
  }
  return undefined;
}

/** Keeps `resolved` under `shape` (evicting as the bounds say). */
export function addByShape(shape: Shape, resolved: ResolvedSecurityContext): void {
  const { password, clientSecret, tlsKey, tlsKeyPassword } = shape;
  addShape(shape.path, { password, clientSecret, tlsKey, tlsKeyPassword, resolved });
}

function findShape(path: readonly Step[]): ShapeEntry[] | undefined {
  let node: ShapeNode | undefined = shapes;
  for (let i = 0; i < path.length && node; i++) node = node.next?.get(path[i]);
  return node?.entries;
}

function addShape(path: readonly Step[], entry: ShapeEntry): void {
  if (shapeEntries >= MAX_SHAPE_ENTRIES || shapeNodes + path.length > MAX_SHAPE_NODES) {
    shapes = {};
    shapeNodes = 0;
    shapeEntries = 0;
  }
  let node = shapes;
  for (const step of path) {
    node.next ??= new Map();
    let child = node.next.get(step);
    if (!child) {
      node.next.set(step, child = {});
      shapeNodes++;
    }
    node = child;
  }
  const entries = node.entries ??= [];
  if (entries.length >= MAX_PER_SHAPE) {
    entries.shift();
    shapeEntries--;
  }
  entries.push(entry);
  shapeEntries++;
}

/**
 * 1 when two secrets are equal, else 0, in time that depends on their length
 * only: contexts may be built from a caller's credentials, and `===` stops
 * at the first differing character, which would let timing tell how much of
 * a cached secret a guess got right. Absent is only equal to absent.
 */
function sameSecret(a: string | undefined, b: string | undefined): number {
  if (a === undefined || b === undefined) return a === b ? 1 : 0;
  if (a.length !== b.length) return 0;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0 ? 1 : 0;
}
