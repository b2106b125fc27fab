/**
 * librdkafka's C prototypes (from `rdkafka.h` and `rdkafka_mock.h`), in the
 * neutral format of `_native_types.ts`, and the constants kshare uses.
 *
 * No variadic function appears here: FFIs cannot call them portably, so the
 * array forms are used instead (`rd_kafka_produceva`,
 * `rd_kafka_mock_push_request_errors_array`).
 *
 * Ownership notes per function live at the call sites.
 *
 * @module
 */
import type { SymbolTable } from "./_native_types.ts";

/**
 * librdkafka's version, in every librdkafka there is: opened alone first, so
 * a library too old for kshare is refused for its version before the larger
 * tables are bound (see `library.ts`).
 */
export const VERSION_SYMBOLS = {
  // int rd_kafka_version(void): 0xMMmmrrpp (major, minor, revision, pre-release; 0xff for a release)
  rd_kafka_version: { args: [], ret: "i32" },
  // const char *rd_kafka_version_str(void): static string
  rd_kafka_version_str: { args: [], ret: "ptr" },
} as const satisfies SymbolTable;

/** The librdkafka API used by every kshare component (client lifecycle, errors, configuration). */
export const CORE_SYMBOLS = {
  ...VERSION_SYMBOLS,
  // const char *rd_kafka_err2str(rd_kafka_resp_err_t): static string
  rd_kafka_err2str: { args: ["i32"], ret: "ptr" },
  // const char *rd_kafka_err2name(rd_kafka_resp_err_t): static string
  rd_kafka_err2name: { args: ["i32"], ret: "ptr" },

  // rd_kafka_conf_t *rd_kafka_conf_new(void): caller owns until rd_kafka_new succeeds
  rd_kafka_conf_new: { args: [], ret: "ptr" },
  // void rd_kafka_conf_destroy(rd_kafka_conf_t *)
  rd_kafka_conf_destroy: { args: ["ptr"], ret: "void" },
  // rd_kafka_conf_res_t rd_kafka_conf_set(conf, const char *name, const char *value, char *errstr, size_t errstr_size)
  rd_kafka_conf_set: { args: ["ptr", "buffer", "buffer", "buffer", "usize"], ret: "i32" },

  // rd_kafka_t *rd_kafka_new(rd_kafka_type_t, rd_kafka_conf_t *conf, char *errstr, size_t errstr_size)
  rd_kafka_new: { args: ["i32", "ptr", "buffer", "usize"], ret: "ptr" },
  // void rd_kafka_destroy(rd_kafka_t *)
  rd_kafka_destroy: { args: ["ptr"], ret: "void" },
} as const satisfies SymbolTable;

/**
 * The client API of the FFI driver, called on the JavaScript thread. None of
 * these waits on the network: `rd_kafka_queue_poll` and `rd_kafka_flush` are
 * only called with a 0 timeout, and the few that hand an op to librdkafka's
 * main thread and wait for its reply (subscribe, assign, incremental assign)
 * wait for local work only. `rd_kafka_destroy_flags` joins librdkafka's
 * threads: it is called here only where the runtime has no worker threads
 * (Bun), after the client was purged or closed.
 */
export const CLIENT_SYMBOLS = {
  // void rd_kafka_conf_set_events(rd_kafka_conf_t *, int events)
  rd_kafka_conf_set_events: { args: ["ptr", "i32"], ret: "void" },
  // void rd_kafka_destroy_flags(rd_kafka_t *, int flags)
  rd_kafka_destroy_flags: { args: ["ptr", "i32"], ret: "void" },
  // rd_kafka_resp_err_t rd_kafka_fatal_error(rd_kafka_t *, char *errstr, size_t errstr_size)
  rd_kafka_fatal_error: { args: ["ptr", "buffer", "usize"], ret: "i32" },

  // rd_kafka_queue_t *rd_kafka_queue_get_main(rd_kafka_t *): new reference, rd_kafka_queue_destroy
  rd_kafka_queue_get_main: { args: ["ptr"], ret: "ptr" },
  // rd_kafka_queue_t *rd_kafka_queue_get_consumer(rd_kafka_t *): new reference, rd_kafka_queue_destroy
  rd_kafka_queue_get_consumer: { args: ["ptr"], ret: "ptr" },
  // rd_kafka_queue_t *rd_kafka_queue_new(rd_kafka_t *): owned, rd_kafka_queue_destroy
  rd_kafka_queue_new: { args: ["ptr"], ret: "ptr" },
  // void rd_kafka_queue_destroy(rd_kafka_queue_t *)
  rd_kafka_queue_destroy: { args: ["ptr"], ret: "void" },
  // rd_kafka_event_t *rd_kafka_queue_poll(rd_kafka_queue_t *, int timeout_ms): owned, rd_kafka_event_destroy
  rd_kafka_queue_poll: { args: ["ptr", "i32"], ret: "ptr" },
  // void rd_kafka_queue_cb_event_enable(rd_kafka_queue_t *, void (*event_cb)(rd_kafka_t *, void *), void *opaque)
  rd_kafka_queue_cb_event_enable: { args: ["ptr", "ptr", "ptr"], ret: "void" },
  // void rd_kafka_queue_io_event_enable(rd_kafka_queue_t *, int fd, const void *payload, size_t size): payload copied
  rd_kafka_queue_io_event_enable: { args: ["ptr", "i32", "buffer", "usize"], ret: "void" },
  // rd_kafka_resp_err_t rd_kafka_poll_set_consumer(rd_kafka_t *)
  rd_kafka_poll_set_consumer: { args: ["ptr"], ret: "i32" },
  // rd_kafka_queue_t *rd_kafka_queue_get_partition(rd_kafka_t *, const char *topic, int32_t partition):
  // new reference to the partition's fetch queue (made if missing), rd_kafka_queue_destroy; NULL if invalid
  rd_kafka_queue_get_partition: { args: ["ptr", "buffer", "i32"], ret: "ptr" },
  // void rd_kafka_queue_forward(rd_kafka_queue_t *src, rd_kafka_queue_t *dst): src's ops go to dst (both keep references)
  rd_kafka_queue_forward: { args: ["ptr", "ptr"], ret: "void" },
  // ssize_t rd_kafka_consume_batch_queue(rd_kafka_queue_t *, int timeout_ms, rd_kafka_message_t **msgs, size_t size):
  // up to size messages, each owned by the caller (rd_kafka_message_destroy), or -1. Read as the result
  // register's low 32 bits (the count is ≤ size, and -1 stays -1): a 64-bit result costs Deno a BigInt per call.
  rd_kafka_consume_batch_queue: { args: ["ptr", "i32", "buffer", "usize"], ret: "i32" },
  // void rd_kafka_message_destroy(rd_kafka_message_t *)
  rd_kafka_message_destroy: { args: ["ptr"], ret: "void" },

  // rd_kafka_event_type_t rd_kafka_event_type(const rd_kafka_event_t *)
  rd_kafka_event_type: { args: ["ptr"], ret: "i32" },
  // void rd_kafka_event_destroy(rd_kafka_event_t *): frees the event and what it owns (messages, lists)
  rd_kafka_event_destroy: { args: ["ptr"], ret: "void" },
  // size_t rd_kafka_event_message_array(rd_kafka_event_t *, const rd_kafka_message_t **msgs, size_t size): messages owned by the event.
  // The count (≤ size) is read as the result register's low 32 bits: a 64-bit result costs Deno a BigInt per call.
  rd_kafka_event_message_array: { args: ["ptr", "buffer", "usize"], ret: "u32" },
  // rd_kafka_resp_err_t rd_kafka_event_error(rd_kafka_event_t *)
  rd_kafka_event_error: { args: ["ptr"], ret: "i32" },
  // const char *rd_kafka_event_error_string(rd_kafka_event_t *): owned by the event
  rd_kafka_event_error_string: { args: ["ptr"], ret: "ptr" },
  // int rd_kafka_event_error_is_fatal(rd_kafka_event_t *)
  rd_kafka_event_error_is_fatal: { args: ["ptr"], ret: "i32" },
  // rd_kafka_topic_partition_list_t *rd_kafka_event_topic_partition_list(rd_kafka_event_t *): owned by the event
  rd_kafka_event_topic_partition_list: { args: ["ptr"], ret: "ptr" },

  // rd_kafka_error_t *rd_kafka_produceva(rd_kafka_t *, const rd_kafka_vu_t *vus, size_t cnt): error owned by caller
  rd_kafka_produceva: { args: ["ptr", "buffer", "usize"], ret: "ptr" },
  // rd_kafka_resp_err_t rd_kafka_flush(rd_kafka_t *, int timeout_ms): only ever called with 0
  rd_kafka_flush: { args: ["ptr", "i32"], ret: "i32" },
  // rd_kafka_resp_err_t rd_kafka_purge(rd_kafka_t *, int purge_flags)
  rd_kafka_purge: { args: ["ptr", "i32"], ret: "i32" },
  // int64_t rd_kafka_message_timestamp(const rd_kafka_message_t *, rd_kafka_timestamp_type_t *tstype)
  rd_kafka_message_timestamp: { args: ["ptr", "ptr"], ret: "i64" },
  // rd_kafka_resp_err_t rd_kafka_message_headers(const rd_kafka_message_t *, rd_kafka_headers_t **hdrsp): owned by the message
  rd_kafka_message_headers: { args: ["ptr", "buffer"], ret: "i32" },
  // rd_kafka_resp_err_t rd_kafka_header_get_all(hdrs, size_t idx, const char **namep, const void **valuep, size_t *sizep)
  rd_kafka_header_get_all: { args: ["ptr", "usize", "buffer", "buffer", "buffer"], ret: "i32" },
  // const char *rd_kafka_topic_name(const rd_kafka_topic_t *): owned by the topic
  rd_kafka_topic_name: { args: ["ptr"], ret: "ptr" },
  // rd_kafka_topic_t *rd_kafka_topic_new(rd_kafka_t *, const char *topic, rd_kafka_topic_conf_t *conf):
  // a new application reference (name copied; NULL conf: the default), released by rd_kafka_topic_destroy
  rd_kafka_topic_new: { args: ["ptr", "buffer", "ptr"], ret: "ptr" },
  // void rd_kafka_topic_destroy(rd_kafka_topic_t *): releases the application reference
  rd_kafka_topic_destroy: { args: ["ptr"], ret: "void" },

  // rd_kafka_resp_err_t rd_kafka_error_code(const rd_kafka_error_t *)
  rd_kafka_error_code: { args: ["ptr"], ret: "i32" },
  // const char *rd_kafka_error_string(const rd_kafka_error_t *): owned by the error
  rd_kafka_error_string: { args: ["ptr"], ret: "ptr" },
  // int rd_kafka_error_is_fatal(const rd_kafka_error_t *)
  rd_kafka_error_is_fatal: { args: ["ptr"], ret: "i32" },
  // int rd_kafka_error_is_retriable(const rd_kafka_error_t *)
  rd_kafka_error_is_retriable: { args: ["ptr"], ret: "i32" },
  // int rd_kafka_error_txn_requires_abort(const rd_kafka_error_t *)
  rd_kafka_error_txn_requires_abort: { args: ["ptr"], ret: "i32" },
  // void rd_kafka_error_destroy(rd_kafka_error_t *)
  rd_kafka_error_destroy: { args: ["ptr"], ret: "void" },

  // Transactions. begin_transaction only changes local state. The other three wait for
  // the coordinator up to timeout_ms, and are resumable: called again after a retriable
  // ERR__TIMED_OUT, they go on with the operation under way. Bound here for Bun, which
  // calls them in short slices (see _producer.ts); elsewhere NONBLOCKING_SYMBOLS' are used.
  // rd_kafka_error_t *rd_kafka_init_transactions(rd_kafka_t *, int timeout_ms): error owned by caller
  rd_kafka_init_transactions: { args: ["ptr", "i32"], ret: "ptr" },
  // rd_kafka_error_t *rd_kafka_begin_transaction(rd_kafka_t *): error owned by caller
  rd_kafka_begin_transaction: { args: ["ptr"], ret: "ptr" },
  // rd_kafka_error_t *rd_kafka_commit_transaction(rd_kafka_t *, int timeout_ms): error owned by caller
  rd_kafka_commit_transaction: { args: ["ptr", "i32"], ret: "ptr" },
  // rd_kafka_error_t *rd_kafka_abort_transaction(rd_kafka_t *, int timeout_ms): error owned by caller
  rd_kafka_abort_transaction: { args: ["ptr", "i32"], ret: "ptr" },
  // rd_kafka_error_t *rd_kafka_send_offsets_to_transaction(rd_kafka_t *producer, const list *offsets,
  //   const rd_kafka_consumer_group_metadata_t *cgmetadata, int timeout_ms): list and metadata borrowed for the call;
  //   error owned by caller. Waits for the coordinators and is not resumable: on Bun it blocks for its whole timeout.
  rd_kafka_send_offsets_to_transaction: { args: ["ptr", "ptr", "ptr", "i32"], ret: "ptr" },
  // rd_kafka_consumer_group_metadata_t *rd_kafka_consumer_group_metadata(rd_kafka_t *consumer): owned, _destroy
  rd_kafka_consumer_group_metadata: { args: ["ptr"], ret: "ptr" },
  // void rd_kafka_consumer_group_metadata_destroy(rd_kafka_consumer_group_metadata_t *)
  rd_kafka_consumer_group_metadata_destroy: { args: ["ptr"], ret: "void" },

  // rd_kafka_topic_partition_list_t *rd_kafka_topic_partition_list_new(int size): owned, _destroy
  rd_kafka_topic_partition_list_new: { args: ["i32"], ret: "ptr" },
  // void rd_kafka_topic_partition_list_destroy(rd_kafka_topic_partition_list_t *)
  rd_kafka_topic_partition_list_destroy: { args: ["ptr"], ret: "void" },
  // rd_kafka_topic_partition_t *rd_kafka_topic_partition_list_add(list, const char *topic, int32_t partition): owned by the list
  rd_kafka_topic_partition_list_add: { args: ["ptr", "buffer", "i32"], ret: "ptr" },
  // rd_kafka_resp_err_t rd_kafka_topic_partition_list_set_offset(list, const char *topic, int32_t partition, int64_t offset)
  rd_kafka_topic_partition_list_set_offset: { args: ["ptr", "buffer", "i32", "i64"], ret: "i32" },

  // rd_kafka_resp_err_t rd_kafka_subscribe(rd_kafka_t *, const rd_kafka_topic_partition_list_t *): list copied
  rd_kafka_subscribe: { args: ["ptr", "ptr"], ret: "i32" },
  // rd_kafka_resp_err_t rd_kafka_unsubscribe(rd_kafka_t *)
  rd_kafka_unsubscribe: { args: ["ptr"], ret: "i32" },
  // const char *rd_kafka_rebalance_protocol(rd_kafka_t *): static string
  rd_kafka_rebalance_protocol: { args: ["ptr"], ret: "ptr" },
  // rd_kafka_resp_err_t rd_kafka_assign(rd_kafka_t *, const rd_kafka_topic_partition_list_t *): list copied
  rd_kafka_assign: { args: ["ptr", "ptr"], ret: "i32" },
  // rd_kafka_error_t *rd_kafka_incremental_assign(rd_kafka_t *, const list *): error owned by caller
  rd_kafka_incremental_assign: { args: ["ptr", "ptr"], ret: "ptr" },
  // rd_kafka_error_t *rd_kafka_incremental_unassign(rd_kafka_t *, const list *): error owned by caller
  rd_kafka_incremental_unassign: { args: ["ptr", "ptr"], ret: "ptr" },
  // int rd_kafka_assignment_lost(rd_kafka_t *)
  rd_kafka_assignment_lost: { args: ["ptr"], ret: "i32" },
  // rd_kafka_resp_err_t rd_kafka_pause_partitions(rd_kafka_t *, list *): per-partition err set in the list
  rd_kafka_pause_partitions: { args: ["ptr", "ptr"], ret: "i32" },
  // rd_kafka_resp_err_t rd_kafka_resume_partitions(rd_kafka_t *, list *): per-partition err set in the list
  rd_kafka_resume_partitions: { args: ["ptr", "ptr"], ret: "i32" },
  // rd_kafka_resp_err_t rd_kafka_offsets_store(rd_kafka_t *, list *): per-partition err set in the list
  rd_kafka_offsets_store: { args: ["ptr", "ptr"], ret: "i32" },
  // rd_kafka_error_t *rd_kafka_consumer_close_queue(rd_kafka_t *, rd_kafka_queue_t *): error owned by caller
  rd_kafka_consumer_close_queue: { args: ["ptr", "ptr"], ret: "ptr" },
  // int rd_kafka_consumer_closed(rd_kafka_t *)
  rd_kafka_consumer_closed: { args: ["ptr"], ret: "i32" },

  // rd_kafka_AdminOptions_t *rd_kafka_AdminOptions_new(rd_kafka_t *, rd_kafka_admin_op_t): owned, _destroy
  rd_kafka_AdminOptions_new: { args: ["ptr", "i32"], ret: "ptr" },
  // void rd_kafka_AdminOptions_destroy(rd_kafka_AdminOptions_t *)
  rd_kafka_AdminOptions_destroy: { args: ["ptr"], ret: "void" },
  // rd_kafka_resp_err_t rd_kafka_AdminOptions_set_request_timeout(options, int timeout_ms, char *errstr, size_t errstr_size)
  rd_kafka_AdminOptions_set_request_timeout: { args: ["ptr", "i32", "buffer", "usize"], ret: "i32" },
  // rd_kafka_TopicCollection_t *rd_kafka_TopicCollection_of_topic_names(const char **topics, size_t cnt): names copied; owned, _destroy
  rd_kafka_TopicCollection_of_topic_names: { args: ["buffer", "usize"], ret: "ptr" },
  // void rd_kafka_TopicCollection_destroy(rd_kafka_TopicCollection_t *)
  rd_kafka_TopicCollection_destroy: { args: ["ptr"], ret: "void" },
  // void rd_kafka_DescribeTopics(rd_kafka_t *, const TopicCollection *, const AdminOptions *, rd_kafka_queue_t *): result event on the queue
  rd_kafka_DescribeTopics: { args: ["ptr", "ptr", "ptr", "ptr"], ret: "void" },
  // void rd_kafka_ListOffsets(rd_kafka_t *, rd_kafka_topic_partition_list_t *, const AdminOptions *, rd_kafka_queue_t *):
  // list and options copied; result event on the queue
  rd_kafka_ListOffsets: { args: ["ptr", "ptr", "ptr", "ptr"], ret: "void" },
  // const rd_kafka_ListOffsets_result_t *rd_kafka_event_ListOffsets_result(rd_kafka_event_t *): owned by the event
  rd_kafka_event_ListOffsets_result: { args: ["ptr"], ret: "ptr" },
  // const rd_kafka_ListOffsetsResultInfo_t **rd_kafka_ListOffsets_result_infos(const result *, size_t *cntp): owned by the result
  rd_kafka_ListOffsets_result_infos: { args: ["ptr", "buffer"], ret: "ptr" },
  // const rd_kafka_topic_partition_t *rd_kafka_ListOffsetsResultInfo_topic_partition(const info *): owned by the info
  rd_kafka_ListOffsetsResultInfo_topic_partition: { args: ["ptr"], ret: "ptr" },
  // const rd_kafka_conf_t *rd_kafka_conf(rd_kafka_t *): the handle's configuration, owned by the handle
  rd_kafka_conf: { args: ["ptr"], ret: "ptr" },
  // rd_kafka_conf_res_t rd_kafka_conf_get(const rd_kafka_conf_t *, const char *name, char *dest, size_t *dest_size):
  // the value copied into dest; *dest_size in: its size, out: the value's size with the NUL
  rd_kafka_conf_get: { args: ["ptr", "buffer", "buffer", "buffer"], ret: "i32" },
} as const satisfies SymbolTable;

/**
 * Blocking calls, bound `nonblocking` so they run on a worker thread where the
 * runtime can (Deno, koffi): the JavaScript thread awaits a Promise instead.
 * Not opened on Bun.
 */
export const NONBLOCKING_SYMBOLS = {
  // rd_kafka_destroy_flags(rk, flags): joins librdkafka's threads
  rd_kafka_destroy_flags_async: { symbol: "rd_kafka_destroy_flags", args: ["ptr", "i32"], ret: "void", nonblocking: true },
  // The transactional calls that wait for the coordinator; each returns an error owned by the caller.
  rd_kafka_init_transactions_async: { symbol: "rd_kafka_init_transactions", args: ["ptr", "i32"], ret: "ptr", nonblocking: true },
  rd_kafka_commit_transaction_async: { symbol: "rd_kafka_commit_transaction", args: ["ptr", "i32"], ret: "ptr", nonblocking: true },
  rd_kafka_abort_transaction_async: { symbol: "rd_kafka_abort_transaction", args: ["ptr", "i32"], ret: "ptr", nonblocking: true },
  rd_kafka_send_offsets_to_transaction_async: {
    symbol: "rd_kafka_send_offsets_to_transaction",
    args: ["ptr", "ptr", "ptr", "i32"],
    ret: "ptr",
    nonblocking: true,
  },
} as const satisfies SymbolTable;

/** The mock cluster API (`rdkafka_mock.h`), used by `mock_cluster.ts` only. */
export const MOCK_SYMBOLS = {
  // rd_kafka_mock_cluster_t *rd_kafka_mock_cluster_new(rd_kafka_t *rk, int broker_cnt)
  rd_kafka_mock_cluster_new: { args: ["ptr", "i32"], ret: "ptr" },
  // void rd_kafka_mock_cluster_destroy(rd_kafka_mock_cluster_t *)
  rd_kafka_mock_cluster_destroy: { args: ["ptr"], ret: "void" },
  // const char *rd_kafka_mock_cluster_bootstraps(const rd_kafka_mock_cluster_t *): owned by the cluster
  rd_kafka_mock_cluster_bootstraps: { args: ["ptr"], ret: "ptr" },
  // void rd_kafka_mock_set_controller_id(mcluster, int32_t controller_id)
  rd_kafka_mock_set_controller_id: { args: ["ptr", "i32"], ret: "void" },
  // rd_kafka_resp_err_t rd_kafka_mock_topic_create(mcluster, const char *topic, int partition_cnt, int replication_factor)
  rd_kafka_mock_topic_create: { args: ["ptr", "buffer", "i32", "i32"], ret: "i32" },
  // rd_kafka_resp_err_t rd_kafka_mock_broker_set_down(mcluster, int32_t broker_id)
  rd_kafka_mock_broker_set_down: { args: ["ptr", "i32"], ret: "i32" },
  // rd_kafka_resp_err_t rd_kafka_mock_broker_set_up(mcluster, int32_t broker_id)
  rd_kafka_mock_broker_set_up: { args: ["ptr", "i32"], ret: "i32" },
  // rd_kafka_resp_err_t rd_kafka_mock_broker_set_host_port(mcluster, int32_t broker_id, const char *host, int port)
  rd_kafka_mock_broker_set_host_port: { args: ["ptr", "i32", "buffer", "i32"], ret: "i32" },
  // rd_kafka_resp_err_t rd_kafka_mock_broker_set_rtt(mcluster, int32_t broker_id, int rtt_ms)
  rd_kafka_mock_broker_set_rtt: { args: ["ptr", "i32", "i32"], ret: "i32" },
  // void rd_kafka_mock_push_request_errors_array(mcluster, int16_t ApiKey, size_t cnt, const rd_kafka_resp_err_t *errors)
  rd_kafka_mock_push_request_errors_array: { args: ["ptr", "i16", "usize", "buffer"], ret: "void" },
  // void rd_kafka_mock_start_request_tracking(mcluster)
  rd_kafka_mock_start_request_tracking: { args: ["ptr"], ret: "void" },
  // void rd_kafka_mock_stop_request_tracking(mcluster)
  rd_kafka_mock_stop_request_tracking: { args: ["ptr"], ret: "void" },
  // rd_kafka_mock_request_t **rd_kafka_mock_get_requests(mcluster, size_t *cntp): caller frees with rd_kafka_mock_request_destroy_array
  rd_kafka_mock_get_requests: { args: ["ptr", "buffer"], ret: "ptr" },
  // void rd_kafka_mock_request_destroy_array(rd_kafka_mock_request_t **, size_t cnt): frees the elements and the array
  rd_kafka_mock_request_destroy_array: { args: ["ptr", "usize"], ret: "void" },
  // int32_t rd_kafka_mock_request_id(rd_kafka_mock_request_t *): the id of the broker that received it
  rd_kafka_mock_request_id: { args: ["ptr"], ret: "i32" },
  // int16_t rd_kafka_mock_request_api_key(rd_kafka_mock_request_t *)
  rd_kafka_mock_request_api_key: { args: ["ptr"], ret: "i16" },
  // void rd_kafka_mock_clear_requests(mcluster)
  rd_kafka_mock_clear_requests: { args: ["ptr"], ret: "void" },
  // void rd_kafka_mock_group_initial_rebalance_delay_ms(mcluster, int32_t delay_ms)
  rd_kafka_mock_group_initial_rebalance_delay_ms: { args: ["ptr", "i32"], ret: "void" },
} as const satisfies SymbolTable;

/** `rd_kafka_type_t`. */
export const RD_KAFKA_PRODUCER = 0;
export const RD_KAFKA_CONSUMER = 1;

/** `rd_kafka_conf_res_t`: RD_KAFKA_CONF_OK. */
export const RD_KAFKA_CONF_OK = 0;

/** `RD_KAFKA_EVENT_*` types (bit flags for rd_kafka_conf_set_events). */
export const EVENT_NONE = 0x0;
export const EVENT_DR = 0x1;
export const EVENT_FETCH = 0x2;
export const EVENT_ERROR = 0x8;
export const EVENT_REBALANCE = 0x10;
export const EVENT_DESCRIBETOPICS_RESULT = 0x100000;
export const EVENT_LISTOFFSETS_RESULT = 0x400000;

/** `rd_kafka_vtype_t` of a `rd_kafka_vu_t` (produceva). */
export const VTYPE_TOPIC = 1;
export const VTYPE_RKT = 2;
export const VTYPE_PARTITION = 3;
export const VTYPE_VALUE = 4;
export const VTYPE_KEY = 5;
export const VTYPE_OPAQUE = 6;
export const VTYPE_MSGFLAGS = 7;
export const VTYPE_TIMESTAMP = 8;
export const VTYPE_HEADER = 9;

/** sizeof(rd_kafka_vu_t): an int vtype, padding, and a 64-byte union. */
export const VU_SIZE = 72;
/** RD_KAFKA_MSG_F_COPY: librdkafka copies key and value during the call. */
export const MSG_F_COPY = 0x2;
/** RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT. */
export const PURGE_ALL = 0x1 | 0x2;
/** RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE. */
export const DESTROY_F_NO_CONSUMER_CLOSE = 0x8;
/** RD_KAFKA_ADMIN_OP_ANY. */
export const ADMIN_OP_ANY = 0;
/** RD_KAFKA_OFFSET_SPEC_LATEST: ListOffsets asks for the end offset. */
export const OFFSET_SPEC_LATEST = -1;

/**
 * Field offsets of `rd_kafka_message_t` (72 bytes, x86_64/aarch64 LP64):
 * err, rkt, partition, payload, len, key, key_len, offset, _private.
 */
export const MESSAGE = {
  size: 72,
  err: 0,
  rkt: 8,
  partition: 16,
  payload: 24,
  len: 32,
  key: 40,
  keyLen: 48,
  offset: 56,
  opaque: 64,
} as const;

/** Field offsets of `rd_kafka_topic_partition_list_t` { int cnt; int size; elems * }. */
export const PARTITION_LIST = { cnt: 0, elems: 8 } as const;
/** Field offsets of `rd_kafka_topic_partition_t` (64 bytes): topic, partition, offset, …, err. */
export const TOPIC_PARTITION = { size: 64, topic: 0, partition: 8, offset: 16, err: 48 } as const;

/** Size of the `errstr` buffers handed to librdkafka. */
export const ERRSTR_SIZE = 512;
