/**
 * The FFI driver's connect ping against the embedded broker, at the moment
 * librdkafka replaces its bootstrap broker: a ping sent between the bootstrap
 * connection and the first Metadata answer (which names the cluster's brokers)
 * goes to a broker handle that is destroyed with the request in flight.
 * librdkafka's leader lookup retries such a lost request only after 3 s; the
 * ping sends its request again instead, so it is answered well within a
 * timeout shorter than that.
 *
 *   npx deno test -A tests/ffi_ping.test.ts
 *   npx bun test tests/ffi_ping.test.ts
 *   node --import tsx --test tests/ffi_ping.test.ts   (koffi)
 */
import { test } from "node:test";
import { createClient } from "../src/drivers/ffi/_client.ts";
import { EVENT_DR, EVENT_ERROR, RD_KAFKA_PRODUCER } from "../src/drivers/ffi/_symbols.ts";
import { loadLibrdkafka } from "../src/drivers/ffi/library.ts";
import { startEmbeddedBroker } from "../src/embedded_broker.ts";

const METADATA = 3;

test(
  "a ping sent while the bootstrap broker is being replaced is answered within a timeout shorter than librdkafka's 3 s retry",
  { timeout: 30_000 },
  async () => {
    const rdkafka = await loadLibrdkafka();
    await using broker = await startEmbeddedBroker({ brokers: 3 });
    // Every answer 200 ms late: the first Metadata request is in flight long
    // enough for the ping's own request to follow it on the same connection.
    broker.setRtt(-1, 200);
    broker.startRequestTracking();
    const config = { properties: { "bootstrap.servers": broker.bootstrapServers }, label: "ping-test", secretProperties: [] };
    const client = createClient(rdkafka, RD_KAFKA_PRODUCER, config, EVENT_DR | EVENT_ERROR);
    try {
      // No event tells when a broker received a request: look until it has.
      while (!broker.requests().some((request) => request.apiKey === METADATA)) {
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      await client.ping(2_900);
    } finally {
      await client.destroy(0);
    }
  },
);
