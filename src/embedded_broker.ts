/**
 * An in-process Kafka cluster for tests: librdkafka's mock cluster
 * (`rdkafka_mock.h`), started through the FFI layer, so it works the same on
 * Deno, Bun and Node without Docker or a JVM. Clients (kshare, kcat, any
 * librdkafka or Kafka client speaking the supported protocol versions) connect
 * to {@link EmbeddedBroker.bootstrapServers} over real TCP sockets.
 *
 * The mock brokers run on a librdkafka thread; every method here is a short,
 * synchronous request to that thread. Needs librdkafka (see
 * `src/drivers/ffi/library.ts` for where it is looked up) and, on Deno,
 * `--allow-ffi --allow-env --allow-read`.
 *
 * @module
 */
import { ERR_NO_ERROR } from "./_kafka_codes.ts";
import { type MockCluster, openMockCluster } from "./drivers/ffi/mock_cluster.ts";

/** The controller id of a Metadata response naming no controller (Kafka's `MetadataResponse.NO_CONTROLLER_ID`). */
const NO_CONTROLLER = -1;
/** Kafka protocol ApiKey of ApiVersionsRequest, the first request on every librdkafka connection. */
const API_KEY_API_VERSIONS = 18;

/**
 * Options of {@link startEmbeddedBroker}.
 *
 * @example One broker, consumer groups that join at once
 * ```ts
 * import { type EmbeddedBrokerOptions, startEmbeddedBroker } from "@kshare/kshare/testing";
 * const options: EmbeddedBrokerOptions = { brokers: 1, groupInitialRebalanceDelayMs: 0 };
 * await using broker = await startEmbeddedBroker(options);
 * console.log(broker.brokerIds); // [1]
 * ```
 *
 * @example A cluster that names no controller, as between controller elections
 * ```ts
 * import * as v from "valibot";
 * import { createRegistry, defineTopic } from "@kshare/kshare";
 * import { startEmbeddedBroker } from "@kshare/kshare/testing";
 * await using broker = await startEmbeddedBroker({ brokers: 3, controller: false });
 * broker.createTopic("orders", 3);
 * await using kafka = createRegistry();
 * const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string() }) });
 * const producer = await kafka.producer({ bootstrapServers: broker.bootstrapServers });
 * await producer.publish(orders, { id: "o-1" }); // connecting and publishing need no controller
 * ```
 */
export interface EmbeddedBrokerOptions {
  /** Number of brokers, with ids 1..n. Default 3. */
  brokers?: number;
  /** Path of the librdkafka shared library; default: discovered (see `loadLibrdkafka`). */
  library?: string;
  /**
   * The brokers' `group.initial.rebalance.delay.ms`: how long the first join
   * of a new consumer group waits for more members. Default 3000, Kafka's own
   * default; tests that create many groups can set it lower.
   */
  groupInitialRebalanceDelayMs?: number;
  /**
   * Whether the cluster names a controller in its Metadata responses. Default
   * `true`: broker 1, moved by {@link EmbeddedBroker.brokerDown} to a broker
   * that is up, as a real cluster elects one. `false`: every Metadata
   * response names none (controller id -1, what Kafka answers while no
   * controller is elected), for testing that a client does not depend on
   * the controller; requests that librdkafka sends to the controller
   * (CreateTopics, DescribeCluster, DescribeTopics, …) then wait until they
   * time out.
   */
  controller?: boolean;
}

/**
 * One request a broker received while request tracking was on.
 *
 * @example Counting the Produce requests of a publish
 * ```ts
 * import * as v from "valibot";
 * import { createRegistry, defineTopic } from "@kshare/kshare";
 * import { startEmbeddedBroker, type TrackedRequest } from "@kshare/kshare/testing";
 * await using broker = await startEmbeddedBroker({ brokers: 1 });
 * await using kafka = createRegistry();
 * const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string() }) });
 * broker.startRequestTracking();
 * const producer = await kafka.producer({ bootstrapServers: broker.bootstrapServers });
 * await producer.publish(orders, { id: "o-1" });
 * const produces: TrackedRequest[] = broker.requests().filter((r) => r.apiKey === 0); // 0 = Produce
 * console.log(produces.length, produces.map((r) => r.brokerId)); // 1 [1]
 * ```
 */
export interface TrackedRequest {
  /** Id of the broker that received it. */
  brokerId: number;
  /** Kafka protocol ApiKey, e.g. 0 = Produce, 1 = Fetch, 3 = Metadata, 18 = ApiVersions. */
  apiKey: number;
}

/**
 * A running in-process Kafka cluster. Stop it with {@link EmbeddedBroker.stop} or `await using`.
 *
 * @example A test helper with fault injection
 * ```ts
 * import { type EmbeddedBroker, startEmbeddedBroker } from "@kshare/kshare/testing";
 *
 * async function withBroker(test: (broker: EmbeddedBroker) => Promise<void>): Promise<void> {
 *   await using broker = await startEmbeddedBroker({ brokers: 3 });
 *   broker.createTopic("orders", 6);
 *   await test(broker); // the broker stops when this returns or throws
 * }
 * await withBroker(async (broker) => {
 *   broker.setRtt(-1, 20); // every broker answers 20 ms late
 *   broker.brokerDown(2); // broker 2 refuses connections
 *   // ... run the client under test against broker.bootstrapServers ...
 *   broker.brokerUp(2);
 * });
 * ```
 */
export interface EmbeddedBroker {
  /** `host:port` of every broker, comma-separated: `127.0.0.1:port,127.0.0.1:port,...`. */
  readonly bootstrapServers: string;
  /** The broker ids, `[1, ..., n]`. */
  readonly brokerIds: readonly number[];
  /**
   * Create a topic (the mock cluster does not support the CreateTopics API;
   * it auto-creates unknown topics with one partition).
   *
   * @param replicationFactor default: the number of brokers, at most 3.
   * @throws Error naming the topic with librdkafka's reason, e.g. when it exists.
   */
  createTopic(name: string, partitions: number, replicationFactor?: number): void;
  /**
   * Disconnect the broker and refuse new connections. Partition leaders stay
   * where they are; if it was the controller, another broker that is up
   * becomes the controller (as a real cluster would elect one).
   */
  brokerDown(brokerId: number): void;
  /** Accept connections again after {@link brokerDown}. */
  brokerUp(brokerId: number): void;
  /**
   * Make Metadata responses name `host:port` for this broker instead of the
   * address it listens on, as a broker's `advertised.listeners` does: for
   * putting a proxy, such as a TLS terminator, in front of it. The broker
   * still listens where {@link bootstrapServers} says; clients that follow
   * the metadata connect to `host:port` after their bootstrap connection.
   *
   * @throws RangeError for an unknown broker id or a port outside 1..65535;
   *   TypeError for an empty host.
   *
   * @example A TLS terminator listening on port 9093 in front of broker 1
   * ```ts
   * import { startEmbeddedBroker } from "@kshare/kshare/testing";
   * await using broker = await startEmbeddedBroker({ brokers: 1 });
   * // the terminator accepts TLS on localhost:9093 and forwards to broker.bootstrapServers
   * broker.setAdvertisedAddress(1, "localhost", 9093);
   * // clients bootstrap from localhost:9093; the metadata sends them back there, not to the plaintext port
   * ```
   */
  setAdvertisedAddress(brokerId: number, host: string, port: number): void;
  /** Delay every response of a broker (`-1`: all brokers) by `rttMs`. */
  setRtt(brokerId: number, rttMs: number): void;
  /**
   * Make the next `errors.length` requests with this ApiKey fail with these
   * error codes, in order (`-195`, `RD_KAFKA_RESP_ERR__TRANSPORT`, disconnects).
   */
  pushRequestErrors(apiKey: number, errors: readonly number[]): void;
  /** Start recording every request the brokers receive. */
  startRequestTracking(): void;
  /** The requests recorded since tracking started (or the last {@link clearRequests}), oldest first. */
  requests(): TrackedRequest[];
  /** Forget the recorded requests. */
  clearRequests(): void;
  /**
   * Connections opened to the brokers since tracking started, counted from
   * ApiVersions (ApiKey 18) requests: every librdkafka client (kshare, kcat)
   * opens a connection with ApiVersions v3, which the mock refuses (it
   * advertises v2), then retries once with v0 — two requests per connection.
   */
  connectionsOpened(): number;
  /** Destroy the cluster (closing every client connection) and its librdkafka handle. Idempotent. */
  stop(): Promise<void>;
  /** Same as {@link stop}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Start an in-process Kafka cluster of `options.brokers` brokers (default 3).
 * Broker 1 is the controller (see {@link EmbeddedBroker.brokerDown}), unless
 * `options.controller` is `false`: then no broker is.
 *
 * Ownership: the returned broker owns one `rd_kafka_t` (a producer handle that
 * hosts the mock cluster and never produces) and the `rd_kafka_mock_cluster_t`
 * on it; `stop()` frees both, cluster first.
 *
 * @throws Error if librdkafka cannot be loaded or the cluster cannot start.
 *
 * @example
 * ```ts
 * import { startEmbeddedBroker } from "@kshare/kshare/testing";
 *
 * await using kafka = await startEmbeddedBroker({ brokers: 1 });
 * kafka.createTopic("orders", 3);
 * console.log(kafka.bootstrapServers); // e.g. "127.0.0.1:38211"
 * ```
 */
export async function startEmbeddedBroker(options: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
  const brokerCount = options.brokers ?? 3;
  if (!Number.isInteger(brokerCount) || brokerCount < 1) {
    throw new RangeError(`brokers must be a positive integer, got ${brokerCount}`);
  }
  const cluster = await openMockCluster({
    brokers: brokerCount,
    ...(options.library === undefined ? {} : { library: options.library }),
    ...(options.groupInitialRebalanceDelayMs === undefined ? {} : { groupInitialRebalanceDelayMs: options.groupInitialRebalanceDelayMs }),
  });
  // A fresh mock cluster advertises controller id 0, which no broker has
  // (rdkafka_mock.c: the cluster is calloc'ed, and only
  // rd_kafka_mock_set_controller_id sets it), so requests librdkafka sends to
  // the controller would wait until they time out. Like a real cluster, elect
  // one; brokerDown() moves it to a broker that is still up. Without a
  // controller, say so as Kafka does: -1.
  let controller = options.controller === false ? NO_CONTROLLER : 1;
  const down = new Set<number>();
  cluster.setControllerId(controller);
  const brokerIds = Object.freeze(Array.from({ length: brokerCount }, (_, i) => i + 1));

  let stopped: Promise<void> | undefined;
  /** The cluster, while it runs: no call may reach a destroyed one. */
  const live = (): MockCluster => {
    if (stopped) throw new Error("embedded broker is stopped");
    return cluster;
  };
  const check = (code: number, what: string): void => {
    if (code !== ERR_NO_ERROR) throw new Error(`embedded broker: ${what}: ${cluster.errorText(code)}`);
  };
  const checkBroker = (brokerId: number, allowAll: boolean): void => {
    if (!(brokerIds.includes(brokerId) || (allowAll && brokerId === -1))) {
      throw new RangeError(`unknown broker id ${brokerId} (brokers: ${brokerIds.join(", ")}${allowAll ? ", or -1 for all" : ""})`);
    }
  };
  const requests = (): TrackedRequest[] => live().requests();
  const stop = (): Promise<void> => {
    stopped ??= Promise.resolve().then(() => cluster.destroy());
    return stopped;
  };

  return {
    bootstrapServers: cluster.bootstrapServers,
    brokerIds,
    createTopic(name, partitions, replicationFactor = Math.min(brokerCount, 3)) {
      if (!Number.isInteger(partitions) || partitions < 1) {
        throw new RangeError(`topic "${name}": partitions must be a positive integer, got ${partitions}`);
      }
      const code = live().createTopic(name, partitions, replicationFactor);
      if (code !== ERR_NO_ERROR) {
        throw new Error(`embedded broker: could not create topic "${name}": ${cluster.errorText(code)}`);
      }
    },
    brokerDown(brokerId) {
      checkBroker(brokerId, false);
      check(live().brokerDown(brokerId), `broker ${brokerId} down`);
      down.add(brokerId);
      const next = brokerIds.find((id) => !down.has(id));
      if (controller !== NO_CONTROLLER && brokerId === controller && next !== undefined) {
        controller = next;
        cluster.setControllerId(controller);
      }
    },
    brokerUp(brokerId) {
      checkBroker(brokerId, false);
      check(live().brokerUp(brokerId), `broker ${brokerId} up`);
      down.delete(brokerId);
      if (controller !== NO_CONTROLLER && down.has(controller)) {
        controller = brokerId;
        cluster.setControllerId(controller);
      }
    },
    setAdvertisedAddress(brokerId, host, port) {
      checkBroker(brokerId, false);
      if (typeof host !== "string" || host.trim() === "") throw new TypeError(`broker ${brokerId}: host must be a non-empty string`);
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        throw new RangeError(`broker ${brokerId}: port must be an integer in 1..65535, got ${port}`);
      }
      check(live().setBrokerAddress(brokerId, host, port), `broker ${brokerId} address`);
    },
    setRtt(brokerId, rttMs) {
      checkBroker(brokerId, true);
      check(live().setRtt(brokerId, rttMs), `broker ${brokerId} rtt`);
    },
    pushRequestErrors(apiKey, errors) {
      live().pushRequestErrors(apiKey, errors);
    },
    startRequestTracking() {
      live().startRequestTracking();
    },
    requests,
    clearRequests() {
      live().clearRequests();
    },
    connectionsOpened() {
      return Math.ceil(requests().filter((r) => r.apiKey === API_KEY_API_VERSIONS).length / 2);
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
