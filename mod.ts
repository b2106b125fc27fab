/**
 * kshare: shared Kafka connections for Deno, Bun and Node.
 *
 * One producer per security context and one consumer per (security context,
 * consumer group), created lazily, shared by every caller, recovered after
 * fatal errors and closed together.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { defineTopic, registry } from "@kshare/kshare";
 *
 * const orders = defineTopic({
 *   name: "orders",
 *   schema: v.object({ id: v.string(), total: v.number() }),
 *   key: (order) => order.id,
 * });
 * const ctx = { bootstrapServers: "localhost:9092" };
 *
 * const producer = await registry.producer(ctx);
 * const report = await producer.publish(orders, { id: "o-1", total: 42 });
 * console.log(report.partition, report.offset);
 *
 * registry.consumer(ctx, "billing")
 *   .subscribe(orders, async (message) => console.log(message.value.total))
 *   .start();
 * ```
 *
 * @module
 */
export { createRegistry } from "./src/create_registry.ts";
export { registry } from "./src/default_registry.ts";
export type { ContextStats, Registry, RegistryStats } from "./src/registry.ts";
export type { RegistryOptions } from "./src/registry_options.ts";
export { SecurityContextSchema } from "./src/security_context.ts";
export { resolveSecurityContext } from "./src/resolve_security_context.ts";
export type {
  NormalizedSecurityContext,
  OAuthBearerSasl,
  PasswordSasl,
  ResolvedSecurityContext,
  SecurityContext,
  SecurityProtocol,
  TlsSettings,
  TuningProperties,
} from "./src/security_context.ts";
export { defineTopic, jsonSerializer } from "./src/topic.ts";
export type { Bytes, Serializer, Topic, TopicConsumerSettings, TopicDefinition } from "./src/topic.ts";
export type { DeliveryReport, Producer } from "./src/producer.ts";
export type { PublishOptions, PublishRecord } from "./src/publish_options.ts";
export type { Transaction, TransactionalProducer, TransactionalProducerOptions } from "./src/transaction.ts";
export { transactionalHandler, type TransactionalMessageHandler } from "./src/consume_transform_produce.ts";
export type { Consumer, ConsumerStats } from "./src/consumer.ts";
export type { SubscribeOptions } from "./src/subscribe_options.ts";
export type { ConsumedMessage, InvalidMessage, MessageHandler } from "./src/consumed_message.ts";
export {
  ClosedError,
  ConnectError,
  InvalidSecurityContextError,
  PublishBatchError,
  PublishTimeoutError,
  QueueFullError,
  TransactionError,
  ValidationError,
} from "./src/errors.ts";
export type { ContextProblem, WaitingLimit } from "./src/errors.ts";
export { isKafkaError, type KafkaError } from "./src/kafka_error.ts";
export type { Logger } from "./src/_util.ts";
export type { TraceContext, TraceSpan, TracingApi } from "./src/tracing.ts";
export type {
  ClientConfig,
  ClientEvents,
  ConsumerClient,
  ConsumerConfig,
  ConsumerEvents,
  IncomingMessage,
  KafkaDriver,
  OutgoingRecord,
  Payload,
  ProducerClient,
  ProducerConfig,
  ProducerTransactions,
  TopicPartition,
  TopicPartitionOffset,
} from "./src/driver.ts";
export { restProxyDriver, type RestProxyDriverOptions } from "./src/drivers/rest_proxy.ts";
