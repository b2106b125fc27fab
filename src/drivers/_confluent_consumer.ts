/**
 * The Confluent driver's consumer. `consume(n)` waits on a libuv worker
 * thread, never on the JavaScript thread; rebalances are applied on the
 * JavaScript thread, one after the other.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type * as Confluent from "./_confluent_binding.ts";
import type { ConsumerClient, ConsumerConfig, ConsumerEvents, IncomingMessage, TopicPartition, TopicPartitionOffset } from "../driver.ts";
import { delay } from "../_util.ts";
import { ERR__ASSIGN_PARTITIONS, ERR__FATAL, ERR__REVOKE_PARTITIONS, ERR__TIMED_OUT } from "../_kafka_codes.ts";
import { cleanError, codedError, connect, watchErrors } from "./_confluent_client.ts";

/** Bound on a consumer's close when its config has none (the registry's default). */
const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;

/** The binding's consumer behind each consumer client of this driver, for `sendOffsets`. */
const consumerBindings = new WeakMap<ConsumerClient, Confluent.KafkaConsumer>();

/** The binding's consumer behind `consumer`, if it is a client of this driver (for a transactional producer's `sendOffsets`). */
export function consumerBinding(consumer: ConsumerClient): Confluent.KafkaConsumer | undefined {
  return consumerBindings.get(consumer);
}

function toIncoming(m: Confluent.Message): IncomingMessage {
  const headers: Array<readonly [string, Uint8Array]> = [];
  for (const header of m.headers ?? []) {
    for (const [name, value] of Object.entries(header)) {
      headers.push([name, typeof value === "string" ? Buffer.from(value) : value]);
    }
  }
  return {
    topic: m.topic,
    partition: m.partition,
    offset: Number(m.offset),
    key: m.key == null ? null : typeof m.key === "string" ? Buffer.from(m.key) : m.key,
    value: m.value ?? null,
    headers,
    timestamp: m.timestamp,
  };
}

/** How long a wake-up query may wait for its answer: librdkafka's default request timeout (`socket.timeout.ms`). */
const WAKE_TIMEOUT_MS = 60_000;

/** A group member over the binding (not yet subscribed), resolving once connected. */
export async function createConsumer(Kafka: Confluent.ConfluentBinding, config: ConsumerConfig, events: ConsumerEvents): Promise<ConsumerClient> {
  /**
   * Rebalances, applied one after the other. The binding's C++ rebalance_cb
   * only queues the event for this thread, and librdkafka waits until
   * assign/unassign is called: so a revocation can wait for the core's
   * `onRevoke` before unassigning, and the next rebalance waits behind it.
   */
  let rebalancing = Promise.resolve();
  /**
   * librdkafka's resume only clears the partitions' pause: a leader's broker
   * thread, idle while all it fetched for was paused, notices on its next
   * wakeup, up to 1 s later, and the partition fetches nothing until then.
   * Any request queued for that broker wakes its thread, which then starts
   * the partition's fetch: a watermark query (ListOffsets to the partition's
   * leader), its answer ignored. The binding waits for each on a libuv worker
   * thread, so they go one after the other, never holding more than one of
   * those threads. Their timeout is the default request timeout: one timed
   * out in flight would count as a failure of the connection.
   */
  const toWake = new Map<string, TopicPartition>();
  let waking = false;
  const wakeNext = (): void => {
    const next = toWake.values().next();
    if (next.done || closed) {
      waking = false;
      return;
    }
    const { topic, partition } = next.value;
    toWake.delete(`${topic}[${partition}]`);
    consumer.queryWatermarkOffsets(topic, partition, WAKE_TIMEOUT_MS, wakeNext);
  };
  const wakeFetchers = (partitions: readonly TopicPartition[]): void => {
    for (const p of partitions) toWake.set(`${p.topic}[${p.partition}]`, p);
    if (waking) return;
    waking = true;
    wakeNext();
  };

  const rebalance = async (error: Confluent.LibrdKafkaError | undefined, assignment: Confluent.Assignment[]): Promise<void> => {
    const partitions = assignment.map(({ topic, partition }) => ({ topic, partition }));
    try {
      if (error?.code === ERR__ASSIGN_PARTITIONS) {
        // Told first: what kshare pauses of them is paused before their fetchers start (see ConsumerEvents).
        // Its failure must not keep the assignment from being applied: the group would wait for it.
        try {
          events.onAssign(partitions);
        } catch (e) {
          events.onError?.(cleanError(e, config));
        }
        if (consumer.rebalanceProtocol() === "COOPERATIVE") consumer.incrementalAssign(assignment);
        else consumer.assign(assignment);
      } else if (error?.code === ERR__REVOKE_PARTITIONS) {
        try {
          await events.onRevoke(partitions);
        } catch (e) {
          events.onError?.(cleanError(e, config));
        }
        if (consumer.rebalanceProtocol() === "COOPERATIVE") consumer.incrementalUnassign(assignment);
        else consumer.unassign();
      }
    } catch (e) {
      if (consumer.isConnected()) events.onError?.(cleanError(e, config));
    }
  };
  const consumer = new Kafka.KafkaConsumer({
    ...config.properties,
    // Runs on the JavaScript thread. The core is told of an assignment (it pauses what it must), then it is applied.
    rebalance_cb: (error: Confluent.LibrdKafkaError | undefined, assignment: Confluent.Assignment[]) => {
      rebalancing = rebalancing.then(() => rebalance(error, assignment));
    },
  });
  const route = watchErrors(consumer, config, events);
  await connect(consumer, config);
  // consume(n) waits for the first message only, then takes what is ready.
  consumer.setDefaultIsTimeoutOnlyForFirstMessage(true);
  let closed = false;

  const client: ConsumerClient = {
    subscribe(topics) {
      consumer.subscribe([...topics]);
      return Promise.resolve();
    },
    poll(max, timeoutMs) {
      if (closed) return Promise.resolve([]);
      consumer.setDefaultConsumeTimeout(timeoutMs);
      return new Promise((resolve, reject) => {
        consumer.consume(max, (error, messages) => {
          if (error?.code === ERR__FATAL) {
            // The client is dead: its owner hears it once, as a fatal error, and replaces it.
            route(error);
            resolve([]);
          } else if (error) reject(cleanError(error, config));
          else resolve(messages.map(toIncoming));
        });
      });
    },
    pause(partitions: readonly TopicPartition[]) {
      if (partitions.length > 0) consumer.pause(partitions.map(({ topic, partition }) => ({ topic, partition })));
    },
    resume(partitions: readonly TopicPartition[]) {
      if (partitions.length === 0) return;
      consumer.resume(partitions.map(({ topic, partition }) => ({ topic, partition })));
      wakeFetchers(partitions);
    },
    commit(offsets: readonly TopicPartitionOffset[]) {
      consumer.offsetsStore(offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset })));
    },
    async close() {
      closed = true;
      // Unsubscribing first makes librdkafka leave the group (LeaveGroup) before
      // the handle closes; without it the group waits for this member's
      // session to time out before its partitions move. The stored offsets
      // are committed on the way out.
      consumer.unsubscribe();
      // rd_kafka_consumer_close runs on a libuv worker and waits for the group's
      // answers, as long as a broker takes (forever, from one that accepts
      // requests and never answers). It cannot be interrupted: past the bound
      // the owner stops waiting; the binding frees the handle when it returns.
      const timeoutMs = config.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
      let done = false;
      const disconnected = new Promise<void>((resolve) =>
        consumer.disconnect(() => {
          done = true;
          resolve();
        })
      );
      await delay(timeoutMs, disconnected);
      if (!done) {
        throw codedError(
          ERR__TIMED_OUT,
          `Leaving the group did not finish within ${timeoutMs} ms; the client is released when librdkafka's close returns`,
        );
      }
    },
  };
  consumerBindings.set(client, consumer);
  return client;
}
