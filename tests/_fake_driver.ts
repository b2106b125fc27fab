/**
 * An in-memory driver for pure registry logic (sharing, retries, retirement,
 * close). It proves nothing about Kafka: the broker tests do that.
 */
import type {
  ClientConfig,
  ClientEvents,
  ConsumerClient,
  ConsumerConfig,
  ConsumerEvents,
  DeliveryReport,
  IncomingMessage,
  KafkaDriver,
  OutgoingRecord,
  ProducerClient,
  TopicPartitionOffset,
} from "../src/driver.ts";

export interface FakeProducer extends ProducerClient {
  readonly config: ClientConfig;
  readonly records: OutgoingRecord[];
  readonly events: ClientEvents;
  closed: boolean;
}

export class FakeDriver implements KafkaDriver {
  readonly name = "fake";
  readonly librdkafkaVersion = "0.0.0";
  readonly producers: FakeProducer[] = [];
  readonly consumers: ConsumerConfig[] = [];
  readonly consumerClients: FakeConsumer[] = [];
  /** How many of the next connects fail. */
  failNext = 0;
  /** How many of the next consumer clients report a fatal error before their connect resolves. */
  fatalAtConnect = 0;
  /** How many of the next consumer `subscribe` calls fail. */
  failSubscribeNext = 0;
  /** How many of the next consumer `subscribe` calls report a fatal error on their client before they settle. */
  fatalAtSubscribe = 0;
  /** Resolves pending connects; set to hold connects open. */
  gate: Promise<void> = Promise.resolve();

  async createProducer(config: ClientConfig, events: ClientEvents): Promise<ProducerClient> {
    await this.gate;
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error("Local: Broker transport failure (fake)");
    }
    let offset = 0;
    const producer: FakeProducer = {
      config,
      events,
      records: [],
      closed: false,
      produce(record: OutgoingRecord): Promise<DeliveryReport> {
        if (producer.closed) return Promise.reject(new Error("fake producer is closed"));
        producer.records.push(record);
        return Promise.resolve({ topic: record.topic, partition: record.partition ?? 0, offset: offset++ });
      },
      flush: () => Promise.resolve(),
      ping: () => Promise.resolve(),
      close() {
        producer.closed = true;
        return Promise.resolve();
      },
    };
    this.producers.push(producer);
    return producer;
  }

  createConsumer(config: ConsumerConfig, events: ConsumerEvents): Promise<ConsumerClient> {
    this.consumers.push(config);
    const consumer: FakeConsumer = {
      config,
      events,
      closed: false,
      closes: 0,
      subscribed: [],
      inbox: [],
      commits: [],
      subscribe: (topics) => {
        if (this.fatalAtSubscribe > 0) {
          this.fatalAtSubscribe--;
          events.onFatal(new Error("Fatal: fenced during subscribe (fake)"));
        }
        if (this.failSubscribeNext > 0) {
          this.failSubscribeNext--;
          return Promise.reject(new Error("Broker: Topic authorization failed (fake)"));
        }
        consumer.subscribed = [...topics];
        return Promise.resolve();
      },
      poll: (max) =>
        consumer.inbox.length > 0
          ? Promise.resolve(consumer.inbox.splice(0, max))
          : consumer.pollsHeld
          ? consumer.pollsHeld.then(() => consumer.inbox.splice(0, max))
          : new Promise((resolve) => setTimeout(() => resolve(consumer.inbox.splice(0, max)), 5)),
      pauseCalls: [],
      paused: new Set(),
      pause(partitions) {
        consumer.pauseCalls.push({ call: "pause", partitions: partitions.map(({ topic, partition }) => `${topic}[${partition}]`) });
        for (const { topic, partition } of partitions) consumer.paused.add(`${topic}[${partition}]`);
      },
      resume(partitions) {
        consumer.pauseCalls.push({ call: "resume", partitions: partitions.map(({ topic, partition }) => `${topic}[${partition}]`) });
        for (const { topic, partition } of partitions) consumer.paused.delete(`${topic}[${partition}]`);
      },
      commit(offsets) {
        consumer.commits.push(...offsets);
      },
      close() {
        consumer.closed = true;
        consumer.closes++;
        return Promise.resolve();
      },
    };
    this.consumerClients.push(consumer);
    if (this.fatalAtConnect > 0) {
      this.fatalAtConnect--;
      events.onFatal(new Error("Fatal: group authorization failed (fake)"));
    }
    for (const waiter of this.#consumerWaiters.splice(0)) waiter(consumer);
    return Promise.resolve(consumer);
  }

  /** Resolves with the next consumer client created. */
  nextConsumer(): Promise<FakeConsumer> {
    return new Promise((resolve) => this.#consumerWaiters.push(resolve));
  }
  #consumerWaiters: Array<(consumer: FakeConsumer) => void> = [];
}

/** A consumer client whose `poll` returns what a test put in its `inbox`. */
export interface FakeConsumer extends ConsumerClient {
  readonly config: ConsumerConfig;
  readonly events: ConsumerEvents;
  closed: boolean;
  /** How many times `close` was called (the registry must call it exactly once). */
  closes: number;
  subscribed: string[];
  readonly inbox: IncomingMessage[];
  readonly commits: TopicPartitionOffset[];
  /** Every pause and resume call, in order, partitions as `topic[partition]`. */
  readonly pauseCalls: Array<{ call: "pause" | "resume"; partitions: string[] }>;
  /**
   * The partitions paused now, as librdkafka keeps them: a pause outlives
   * the partition's revocation, only a resume ends it.
   */
  readonly paused: Set<string>;
  /** While set, a poll that finds the inbox empty waits for it (a poll in flight as long as a test wants). */
  pollsHeld?: Promise<void>;
}
