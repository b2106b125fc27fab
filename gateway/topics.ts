/**
 * The gateway's example topic model: `orders` and `payments`. Replace it with
 * your own topics; everything else in the gateway follows from this list.
 *
 * @module
 */
import * as v from "valibot";
import { defineTopic } from "../mod.ts";
import type { AnyTopic } from "../hono.ts";

/** An order: keyed by its id, so every record of one order lands in one partition, in order. */
export const orders = defineTopic({
  name: "orders",
  schema: v.object({
    id: v.pipe(v.string(), v.nonEmpty()),
    customer: v.pipe(v.string(), v.nonEmpty()),
    total: v.pipe(v.number(), v.minValue(0)),
  }),
  key: (order) => order.id,
});

/** A payment for an order: keyed by the order's id, so it is ordered with that order's records. */
export const payments = defineTopic({
  name: "payments",
  schema: v.object({
    id: v.pipe(v.string(), v.nonEmpty()),
    orderId: v.pipe(v.string(), v.nonEmpty()),
    amount: v.pipe(v.number(), v.gtValue(0)),
    currency: v.picklist(["EUR", "GBP", "USD"]),
  }),
  key: (payment) => payment.orderId,
});

/** Every topic the gateway publishes to. */
export const topics: readonly AnyTopic[] = [orders, payments];

/** Partitions of each topic on the embedded broker. */
export const EMBEDDED_PARTITIONS = 3;
