/**
 * Reachability checks of a client without blocking the JavaScript thread:
 * one Admin request, sent again until answered, its result read from a queue
 * of its own. Whom it asks and why is said at {@link ping}.
 *
 * Ownership: the queue, the Admin options and the request's lists are made
 * and freed here; the client's handle must outlive the returned promise.
 *
 * @module
 */
import { ERR__NOENT, ERR__TIMED_OUT } from "../../_kafka_codes.ts";
import type { KafkaError } from "../../kafka_error.ts";
import { cString, fromCBuffer, outWord, readOutWord } from "./_c_memory.ts";
import type { NativeRuntime, NativeSymbols, Pointer } from "./_native_types.ts";
import { withPartitionList } from "./_partition_list.ts";
import { openEventQueue } from "./_queue.ts";
import {
  ADMIN_OP_ANY,
  type CLIENT_SYMBOLS,
  ERRSTR_SIZE,
  EVENT_DESCRIBETOPICS_RESULT,
  EVENT_LISTOFFSETS_RESULT,
  OFFSET_SPEC_LATEST,
  TOPIC_PARTITION,
} from "./_symbols.ts";
import type { Librdkafka } from "./library.ts";

/** What a ping uses of a client (a `Client` of `_client.ts`). */
export interface PingClient {
  readonly rdkafka: Librdkafka;
  readonly native: NativeRuntime;
  readonly c: NativeSymbols<typeof CLIENT_SYMBOLS>;
  readonly rk: Pointer;
  readonly config: { readonly label: string };
  error(code: number, message?: string | null): KafkaError;
}

/**
 * Whom a ping asks: any broker, through ListOffsets of partition 0 of the
 * topic named (a fresh name no one has, or one the client already has), or
 * the controller.
 */
export type PingTarget = { readonly anyBroker: string } | "controller";

/** Topic name DescribeTopics asks the controller about in a ping; it need not exist and is never created. */
const PING_TOPIC = "__kshare_ping";

/**
 * How long a ping waits for an answer before it sends its request once more,
 * doubled after each copy up to {@link PING_RESEND_MAX_MS} (see `ping`).
 */
const PING_RESEND_MS = 100;
/** The longest wait between two copies of a ping's request: 8 copies in a 10 s connect timeout. */
const PING_RESEND_MAX_MS = 2_000;

/**
 * Reachability without blocking: an Admin request whose result event arrives
 * on a queue of its own. Which request (librdkafka 2.15.1):
 *
 * - "any broker": ListOffsets of partition 0 of a topic no one has (a new
 *   name each time). librdkafka first looks the partition's leader up with a
 *   Metadata request to any broker that is up, never creating the topic
 *   (`rd_kafka_topic_partition_list_query_leaders_async` in
 *   rdkafka_partition.c, `rd_kafka_metadata_refresh_topics` in
 *   rdkafka_metadata.c); the broker's "no such topic" (or "not authorized")
 *   ends the request at once with ERR__NOENT, no answer with ERR__TIMED_OUT.
 *   A broker's "no such topic" is cached for 100 s and a lookup within that
 *   time asks no broker (`rd_kafka_metadata_cache_topic_update` in
 *   rdkafka_metadata_cache.c), hence the new name.
 * - "controller": DescribeTopics of {@link PING_TOPIC}, a Metadata request to
 *   the controller, which waits until the timeout for a cluster naming none.
 *
 * Every other Admin request goes to the controller, to the group coordinator
 * or to every broker, or needs a broker id (rdkafka_admin.c, the targets
 * at line 236): ListConsumerGroups waits for every broker (and the mock
 * cluster lacks ListGroups); the coordinator ones abort the process when one
 * times out while the coordinator is unreachable and the coordinator comes
 * back (`rd_kafka_enq_once_del_source_return`: "eonce->refcnt > 0", librdkafka
 * issue #4605, seen with 2.15.1).
 *
 * Why not ListOffsets every time: when no broker is up, the lookup leaves the
 * topic in the metadata cache as a hint (rdkafka_metadata.c line 1487), and
 * librdkafka's next refresh of the topics it knows, the one on reconnecting
 * included (rdkafka_broker.c line 2409), asks for it with
 * AllowAutoTopicCreation = `allow.auto.create.topics` as soon as the client
 * has topics of its own (`rd_kafka_metadata_refresh_known_topics`): a ping of
 * a producer that published, during an outage, creates its topic on a broker
 * with `auto.create.topics.enable` (seen with the mock cluster). So "any
 * broker" is asked where a hint cannot become a topic: at the connect (no
 * topic of its own yet; a client nobody answered is destroyed), in a client
 * that never asks for topic creation (a consumer by default), and about a
 * topic the client already has (one a producer published to: it is in the
 * metadata cache already, so no hint is left; its partition 0's leader
 * answers). Only a producer that may create topics and has published nothing
 * yet asks the controller.
 *
 * Why the request is sent again until answered, after {@link PING_RESEND_MS}
 * and then less often:
 * a leader lookup whose Metadata request is lost is only retried by a 3 s
 * timer, or when something else changes the metadata cache
 * (`rd_kafka_topic_partition_list_query_leaders_async_worker`). It is lost
 * when it went to a bootstrap broker that librdkafka replaces, as soon as the
 * first Metadata answer names the cluster's brokers, while the request is in
 * flight ("Broker handle destroyed without termination"): a connect whose
 * ping was sent between the bootstrap broker's connection and that answer
 * took 3 s instead of a few ms (about 1 connect in 40 on Bun, seen with
 * 2.15.1). A copy starts a lookup of its own, which asks at once; the copies
 * ask about the same topic, so no other name is left in the cache.
 */
export async function ping(client: PingClient, timeoutMs: number, target: PingTarget): Promise<void> {
  const { c, rk, native } = client;
  // queue: owned by `events`, destroyed by events.close().
  const events = openEventQueue(client.rdkafka, c.rd_kafka_queue_new(rk)!);
  const deadline = Date.now() + timeoutMs;
  /** Send the request once more; every copy times out at `deadline`. */
  const send = () => {
    // options: ours; librdkafka copies it into the request, so it is freed as
    // soon as the request was made.
    const options = c.rd_kafka_AdminOptions_new(rk, ADMIN_OP_ANY);
    try {
      const errstr = new Uint8Array(ERRSTR_SIZE);
      const remaining = Math.max(1, deadline - Date.now());
      if (c.rd_kafka_AdminOptions_set_request_timeout(options, remaining, errstr, ERRSTR_SIZE) !== 0) {
        throw new Error(`ping: ${fromCBuffer(errstr)}`);
      }
      if (target !== "controller") {
        // The list is copied by ListOffsets.
        const partition = { topic: target.anyBroker, partition: 0, offset: OFFSET_SPEC_LATEST };
        withPartitionList(client, [partition], (list) => c.rd_kafka_ListOffsets(rk, list, options, events.queue));
      } else {
        describePingTopic(client, options, events.queue);
      }
    } finally {
      c.rd_kafka_AdminOptions_destroy(options);
    }
  };
  try {
    send();
    let pending = 1;
    let interval = PING_RESEND_MS;
    let resend = Date.now() + interval;
    const result = target !== "controller" ? EVENT_LISTOFFSETS_RESULT : EVENT_DESCRIBETOPICS_RESULT;
    // librdkafka times the requests out itself; the margin only guards against a lost result.
    const giveUp = deadline + 1_000;
    for (let now = Date.now(); now < giveUp; now = Date.now()) {
      if (now >= resend && resend < deadline) {
        send();
        pending++;
        interval = Math.min(interval * 2, PING_RESEND_MAX_MS);
        resend = now + interval;
      }
      const event = await events.next((resend < deadline ? Math.min(resend, giveUp) : giveUp) - now);
      if (event === null) continue;
      try {
        if (c.rd_kafka_event_type(event) !== result) continue;
        // A positive code is a broker's error: it answered. ERR__NOENT: no
        // leader for a topic a broker said it does not have.
        let code = c.rd_kafka_event_error(event);
        // A ListOffsets sent to a partition's leader has its outcome in the partition.
        if (code === 0 && target !== "controller") code = listOffsetsError(client, event);
        if (code >= 0 || (code === ERR__NOENT && target !== "controller")) return;
        // Copies sent later time out at the same deadline: report the last.
        if (code === ERR__TIMED_OUT && --pending > 0) continue;
        // The string belongs to the event: read before rd_kafka_event_destroy.
        throw client.error(
          code,
          `No broker answered for ${client.config.label}: ${native.readCString(c.rd_kafka_event_error_string(event)) ?? client.rdkafka.errorText(code)}`,
        );
      } finally {
        c.rd_kafka_event_destroy(event);
      }
    }
    throw client.error(ERR__TIMED_OUT, `No broker answered for ${client.config.label} within ${timeoutMs} ms`);
  } finally {
    await events.close();
  }
}

/**
 * The outcome of the one partition of a ListOffsets result `event`: its
 * error, or ERR__TIMED_OUT for a request no broker answered (librdkafka
 * 2.15.1 reports that one with no error and the offset
 * RD_KAFKA_OFFSET_INVALID, -1001: seen with a leader down), else 0.
 * Everything read belongs to the event: read before it is destroyed.
 */
function listOffsetsError(client: PingClient, event: Pointer): number {
  const { c, native } = client;
  const result = c.rd_kafka_event_ListOffsets_result(event);
  const count = outWord();
  const infos = result === null ? null : c.rd_kafka_ListOffsets_result_infos(result, count);
  const info = infos === null || readOutWord(count) === 0 ? null : native.readPointer(infos, 0);
  const partition = info === null ? null : c.rd_kafka_ListOffsetsResultInfo_topic_partition(info);
  if (partition === null) return ERR__TIMED_OUT;
  const code = native.readI32(partition, TOPIC_PARTITION.err);
  return code !== 0 ? code : native.readI64(partition, TOPIC_PARTITION.offset) < 0n ? ERR__TIMED_OUT : 0;
}

/** DescribeTopics of {@link PING_TOPIC}, its result posted to `queue`. */
function describePingTopic(client: PingClient, options: Pointer | null, queue: Pointer): void {
  const { c, rk, native } = client;
  // topics: ours; copied by DescribeTopics, freed as soon as it returned.
  const name = cString(PING_TOPIC);
  const names = new Uint8Array(8); // const char *names[1], pointing into `name` (alive during the call)
  new DataView(names.buffer).setBigUint64(0, native.bufferAddress(name), true);
  const topics = c.rd_kafka_TopicCollection_of_topic_names(names, 1);
  try {
    c.rd_kafka_DescribeTopics(rk, topics, options, queue);
  } finally {
    c.rd_kafka_TopicCollection_destroy(topics);
  }
}

/**
 * Whom a client's ping asks (see {@link ping}): any broker at the connect, in
 * a client that never asks for topic creation, and about `knownTopic` (one it
 * already produced to); else the controller.
 */
export function pingTarget(connected: boolean, createsTopics: boolean, knownTopic: string | undefined): PingTarget {
  return !connected || !createsTopics
    ? { anyBroker: `${PING_TOPIC}-${crypto.randomUUID()}` }
    : knownTopic !== undefined
    ? { anyBroker: knownTopic }
    : "controller";
}
