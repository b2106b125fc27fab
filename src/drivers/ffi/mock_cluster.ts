/**
 * librdkafka's mock cluster (`rdkafka_mock.h`) on a handle of its own: the
 * FFI side of kshare's embedded broker (`src/embedded_broker.ts`), which adds
 * the testing semantics (argument checks, controller election, messages).
 *
 * Each method is one short, synchronous request to the mock brokers' thread,
 * made on the JavaScript thread. Ownership is stated at each C call; the
 * caller owns the returned {@link MockCluster} and frees it with
 * {@link MockCluster.destroy}, after which no other method may be called.
 *
 * @module
 */
import { cString, fromCBuffer, outWord, readOutWord, readPointerArray } from "./_c_memory.ts";
import { ERRSTR_SIZE, RD_KAFKA_CONF_OK, RD_KAFKA_PRODUCER } from "./_symbols.ts";
import { loadLibrdkafka } from "./library.ts";

/** Options of {@link openMockCluster}. */
export interface MockClusterOptions {
  /** Number of brokers, with ids 1..n. */
  readonly brokers: number;
  /** Path of the librdkafka shared library; default: discovered (see `loadLibrdkafka`). */
  readonly library?: string;
  /** The brokers' `group.initial.rebalance.delay.ms`; default: librdkafka's (3000). */
  readonly groupInitialRebalanceDelayMs?: number;
}

/** One request a mock broker received while request tracking was on. */
export interface MockRequest {
  /** Id of the broker that received it. */
  readonly brokerId: number;
  /** Kafka protocol ApiKey. */
  readonly apiKey: number;
}

/**
 * A running mock cluster. Methods returning a number return librdkafka's
 * `rd_kafka_resp_err_t` (0: done); {@link errorText} says what another means.
 */
export interface MockCluster {
  /** `host:port` of every broker, comma-separated. */
  readonly bootstrapServers: string;
  /** The controller id named in Metadata responses (-1: none). */
  setControllerId(brokerId: number): void;
  createTopic(name: string, partitions: number, replicationFactor: number): number;
  brokerDown(brokerId: number): number;
  brokerUp(brokerId: number): number;
  /** The `host:port` Metadata responses name for the broker. */
  setBrokerAddress(brokerId: number, host: string, port: number): number;
  /** Delay every response of a broker (`-1`: all) by `rttMs`. */
  setRtt(brokerId: number, rttMs: number): number;
  /** Fail the next `errors.length` requests with this ApiKey with these codes, in order. */
  pushRequestErrors(apiKey: number, errors: readonly number[]): void;
  startRequestTracking(): void;
  /** The requests recorded since tracking started or the last {@link clearRequests}, oldest first. */
  requests(): MockRequest[];
  clearRequests(): void;
  /** librdkafka's text for an error code. */
  errorText(code: number): string;
  /** Destroy the cluster (joining its thread, closing every client connection), then its handle. Once. */
  destroy(): void;
}

/**
 * Start a mock cluster of `options.brokers` brokers on a new librdkafka
 * handle. The cluster names no controller until {@link MockCluster.setControllerId}.
 *
 * Ownership: the result owns one `rd_kafka_t` (a producer handle that hosts
 * the cluster and never produces) and the `rd_kafka_mock_cluster_t` on it;
 * `destroy()` frees both, cluster first.
 *
 * @throws Error if librdkafka cannot be loaded (or is too old for the mock
 *   API) or the cluster cannot start.
 *
 * @example
 * ```ts
 * import { openMockCluster } from "./src/drivers/ffi/mock_cluster.ts";
 * const cluster = await openMockCluster({ brokers: 1 });
 * cluster.setControllerId(1);
 * console.log(cluster.bootstrapServers, cluster.createTopic("orders", 3, 1)); // e.g. "127.0.0.1:38211" 0
 * cluster.destroy();
 * ```
 */
export async function openMockCluster(options: MockClusterOptions): Promise<MockCluster> {
  const brokerCount = options.brokers;
  const rdkafka = await loadLibrdkafka(options.library === undefined ? {} : { library: options.library });
  const { native, symbols: rd } = rdkafka;
  const mock = rdkafka.mock();

  // conf: owned here until rd_kafka_new succeeds, which takes it over (and
  // frees it with the handle); on failure it is still ours to destroy.
  const conf = rd.rd_kafka_conf_new();
  if (conf === null) throw new Error("rd_kafka_conf_new failed");
  const errstr = new Uint8Array(ERRSTR_SIZE);
  const settings: Record<string, string> = {
    "client.id": "kshare-embedded-broker",
    // The handle only hosts the cluster: keep its own logging to errors.
    "log_level": "3",
  };
  for (const [name, value] of Object.entries(settings)) {
    if (rd.rd_kafka_conf_set(conf, cString(name), cString(value), errstr, ERRSTR_SIZE) !== RD_KAFKA_CONF_OK) {
      rd.rd_kafka_conf_destroy(conf);
      throw new Error(`embedded broker: ${name}: ${fromCBuffer(errstr)}`);
    }
  }
  // rk: owned by the returned cluster, freed by rd_kafka_destroy in destroy().
  const rk = rd.rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, ERRSTR_SIZE);
  if (rk === null) {
    rd.rd_kafka_conf_destroy(conf);
    throw new Error(`embedded broker: rd_kafka_new failed: ${fromCBuffer(errstr)}`);
  }
  // mcluster: owned by the returned cluster, freed by
  // rd_kafka_mock_cluster_destroy in destroy(), before rk (it runs on rk).
  const mcluster = mock.rd_kafka_mock_cluster_new(rk, brokerCount);
  if (mcluster === null) {
    rd.rd_kafka_destroy(rk);
    throw new Error(`embedded broker: rd_kafka_mock_cluster_new(${brokerCount}) failed (could not listen?)`);
  }
  if (options.groupInitialRebalanceDelayMs !== undefined) {
    mock.rd_kafka_mock_group_initial_rebalance_delay_ms(mcluster, options.groupInitialRebalanceDelayMs);
  }
  // The bootstraps string is owned by mcluster: copied here, never freed.
  const bootstrapServers = native.readCString(mock.rd_kafka_mock_cluster_bootstraps(mcluster)) ?? "";
  let destroyed = false;

  return {
    bootstrapServers,
    setControllerId: (brokerId) => mock.rd_kafka_mock_set_controller_id(mcluster, brokerId),
    // The topic name is copied by librdkafka during the call.
    createTopic: (name, partitions, replicationFactor) => mock.rd_kafka_mock_topic_create(mcluster, cString(name), partitions, replicationFactor),
    brokerDown: (brokerId) => mock.rd_kafka_mock_broker_set_down(mcluster, brokerId),
    brokerUp: (brokerId) => mock.rd_kafka_mock_broker_set_up(mcluster, brokerId),
    // The host is copied by librdkafka during the call.
    setBrokerAddress: (brokerId, host, port) => mock.rd_kafka_mock_broker_set_host_port(mcluster, brokerId, cString(host), port),
    setRtt: (brokerId, rttMs) => mock.rd_kafka_mock_broker_set_rtt(mcluster, brokerId, rttMs),
    pushRequestErrors(apiKey, errors) {
      if (errors.length === 0) return;
      // The codes are copied by librdkafka during the call; the buffer is ours.
      const codes = Int32Array.from(errors);
      mock.rd_kafka_mock_push_request_errors_array(
        mcluster,
        apiKey,
        codes.length,
        new Uint8Array(codes.buffer, codes.byteOffset, codes.byteLength),
      );
    },
    startRequestTracking: () => mock.rd_kafka_mock_start_request_tracking(mcluster),
    requests() {
      const count = outWord();
      // array: an rd_kafka_mock_request_t *[count] of copies, owned by us and
      // freed (elements and array) by rd_kafka_mock_request_destroy_array.
      // NULL when count is 0.
      const array = mock.rd_kafka_mock_get_requests(mcluster, count);
      const n = readOutWord(count);
      if (array === null) return [];
      try {
        return readPointerArray(native, array, n).map((request) => ({
          // rdkafka_mock.c records the receiving broker's id as the request id.
          brokerId: mock.rd_kafka_mock_request_id(request),
          apiKey: mock.rd_kafka_mock_request_api_key(request),
        }));
      } finally {
        mock.rd_kafka_mock_request_destroy_array(array, n);
      }
    },
    clearRequests: () => mock.rd_kafka_mock_clear_requests(mcluster),
    errorText: (code) => rdkafka.errorText(code),
    destroy() {
      if (destroyed) return;
      destroyed = true;
      // Joins the mock broker thread and closes every client connection.
      mock.rd_kafka_mock_cluster_destroy(mcluster);
      // rk has never produced: nothing to flush, destroy returns promptly.
      rd.rd_kafka_destroy(rk);
    },
  };
}
