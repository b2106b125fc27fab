/**
 * kshare/testing: an in-process Kafka cluster for tests, librdkafka's mock
 * cluster started through FFI, the same on Deno, Bun and Node. Clients
 * (kshare, kcat, any librdkafka client) reach it over real loopback sockets.
 *
 * An entry point of its own, so that `@kshare/kshare` does not reach the FFI
 * layer: a bundle of the library for an edge runtime (Cloudflare Workers,
 * Vercel Edge), where no native code runs, holds none.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { createRegistry, defineTopic } from "@kshare/kshare";
 * import { startEmbeddedBroker } from "@kshare/kshare/testing";
 *
 * await using broker = await startEmbeddedBroker({ brokers: 1 });
 * broker.createTopic("orders", 1);
 * await using kafka = createRegistry();
 * const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string() }) });
 * const producer = await kafka.producer({ bootstrapServers: broker.bootstrapServers });
 * await producer.publish(orders, { id: "o-1" });
 * ```
 *
 * @module
 */
export { startEmbeddedBroker } from "./src/embedded_broker.ts";
export type { EmbeddedBroker, EmbeddedBrokerOptions, TrackedRequest } from "./src/embedded_broker.ts";
