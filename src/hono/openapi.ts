/**
 * The OpenAPI 3.1 document of the produce API, generated from the topics'
 * valibot schemas with `@valibot/to-json-schema`.
 *
 * @module
 */
import { toJsonSchema } from "@valibot/to-json-schema";
import type * as v from "valibot";
import { KAFKA_RETRIABLE, UNKNOWN_TOPIC_PARTITION } from "./error_codes.ts";
import { RestProxyErrorBodySchema } from "./errors.ts";
import { DEFAULT_MAX_BATCH_ENTRIES } from "./publish_routes_options.ts";
import { type AnyTopic, topicBatchSchema, topicRecordSchema } from "./records.ts";
import { BatchResponseSchema, ProduceResponseSchema } from "./responses.ts";

/**
 * Options of {@link openApiDocument}.
 *
 * @example The document of `publishRoutes({ topics: [orders], clusterId: "local", maxBatchEntries: 25 })`
 * ```ts
 * import * as v from "valibot";
 * import { defineTopic } from "@kshare/kshare";
 * import { openApiDocument, type OpenApiOptions, opsRoutes } from "@kshare/kshare/hono";
 *
 * const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string(), total: v.number() }) });
 * const options: OpenApiOptions = {
 *   topics: [orders],
 *   clusterId: "local",
 *   maxBatchEntries: 25,
 *   title: "Orders gateway",
 *   version: "2.1.0",
 *   securitySchemes: { basic: { type: "http", scheme: "basic" } },
 * };
 * const routes = opsRoutes({ openapi: openApiDocument(options) }); // GET /openapi.json
 * ```
 */
export interface OpenApiOptions {
  /** The topics published (as given to `publishRoutes`). */
  readonly topics: readonly AnyTopic[];
  /** The cluster id of the paths (as given to `publishRoutes`, default `"kshare"`). */
  readonly clusterId?: string;
  /** As given to `publishRoutes` (default 10). */
  readonly maxBatchEntries?: number;
  /** `info.title` (default `"kshare produce API"`). */
  readonly title?: string;
  /** `info.version` (default `"1"`). */
  readonly version?: string;
  /** `components.securitySchemes`, e.g. `{ basic: { type: "http", scheme: "basic" } }`; each applies to the produce paths. */
  readonly securitySchemes?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

/** A JSON Schema (2020-12) of a valibot schema, as OpenAPI 3.1 embeds it. */
function jsonSchema(schema: v.GenericSchema): Record<string, unknown> {
  // Actions without a JSON Schema form (custom checks) are left out: the document describes, the validators decide.
  const { $schema: _, ...rest } = toJsonSchema(schema, {
    target: "draft-2020-12",
    typeMode: "input",
    errorMode: "ignore",
  }) as Record<
    string,
    unknown
  >;
  return rest;
}

/**
 * The OpenAPI 3.1 document of `publishRoutes(options)`: one produce and one
 * batch path per topic, whose request bodies carry the topic's schema as the
 * `JSON` value's data, and every error response.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { defineTopic } from "@kshare/kshare";
 * import { openApiDocument } from "@kshare/kshare/hono";
 * const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string() }) });
 * const doc = openApiDocument({ topics: [orders], clusterId: "local" });
 * console.log(Object.keys(doc.paths as object));
 * ```
 */
export function openApiDocument(options: OpenApiOptions): Record<string, unknown> {
  const clusterId = options.clusterId ?? "kshare";
  const maxBatchEntries = options.maxBatchEntries ?? DEFAULT_MAX_BATCH_ENTRIES;
  const security = Object.keys(options.securitySchemes ?? {}).map((name) => ({ [name]: [] }));
  const error = (description: string) => ({
    description,
    content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
  });
  const errors = {
    "400": error(
      "Malformed JSON, an invalid record, or a value that fails the topic's schema (the message names each issue's path)",
    ),
    "401": error("Not authenticated"),
    "403": error("No Kafka security context for this caller, or not authorized"),
    "404": error(`Unknown cluster, or a topic or partition this server does not host (${UNKNOWN_TOPIC_PARTITION})`),
    "413": error("The body or a record is too large"),
    "415": error("Content-Type is not application/json"),
    "422": error("The body is empty"),
    "503": {
      ...error(`Kafka unavailable or delivery timed out (${KAFKA_RETRIABLE}); retry after Retry-After seconds`),
      headers: { "Retry-After": { schema: { type: "integer" } } },
    },
  };
  const clusterParameter = { name: "cluster_id", in: "path", required: true, schema: { type: "string", enum: [clusterId] } };
  const paths: Record<string, unknown> = {
    "/v3/clusters": {
      get: {
        summary: "The cluster this gateway publishes to",
        security,
        responses: { "200": { description: "KafkaClusterList" }, "401": errors["401"] },
      },
    },
    "/v3/clusters/{cluster_id}": {
      get: {
        summary: "The cluster, by id",
        security,
        parameters: [clusterParameter],
        responses: { "200": { description: "KafkaCluster" }, "401": errors["401"], "404": error("No such cluster") },
      },
    },
  };
  const schemas: Record<string, unknown> = {
    Error: jsonSchema(RestProxyErrorBodySchema),
    ProduceResponse: jsonSchema(ProduceResponseSchema),
    BatchResponse: jsonSchema(BatchResponseSchema),
  };
  for (const topic of options.topics) {
    schemas[`${topic.name}.value`] = jsonSchema(topic.schema);
    schemas[`${topic.name}.record`] = jsonSchema(topicRecordSchema(topic));
    schemas[`${topic.name}.batch`] = jsonSchema(topicBatchSchema(topic, maxBatchEntries));
    paths[`/v3/clusters/{cluster_id}/topics/${topic.name}/records`] = {
      post: {
        operationId: `produce_${topic.name}`,
        summary: `Produce records to ${topic.name}`,
        description: "One record, or several concatenated JSON records (streaming mode: 200 with one result object per record, in order).",
        security,
        parameters: [clusterParameter],
        requestBody: {
          required: true,
          content: { "application/json": { schema: { $ref: `#/components/schemas/${topic.name}.record` } } },
        },
        responses: {
          "200": {
            description: "Delivered",
            content: { "application/json": { schema: { $ref: "#/components/schemas/ProduceResponse" } } },
          },
          ...errors,
        },
      },
    };
    paths[`/v3/clusters/{cluster_id}/topics/${topic.name}/records:batch`] = {
      post: {
        operationId: `produce_batch_${topic.name}`,
        summary: `Produce up to ${maxBatchEntries} records to ${topic.name}`,
        security,
        parameters: [clusterParameter],
        requestBody: {
          required: true,
          content: { "application/json": { schema: { $ref: `#/components/schemas/${topic.name}.batch` } } },
        },
        responses: {
          "207": {
            description: "Every entry, by id, in successes or failures",
            content: { "application/json": { schema: { $ref: "#/components/schemas/BatchResponse" } } },
          },
          ...errors,
        },
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: { title: options.title ?? "kshare produce API", version: options.version ?? "1" },
    paths,
    components: { schemas, ...(options.securitySchemes && { securitySchemes: options.securitySchemes }) },
  };
}
