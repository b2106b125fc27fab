// The install recipes' program (the README's "Install" sections end with it):
// publish one record to the embedded broker with kshare, then read it back
// with kcat, an independent client. The same file runs on Deno, Bun and Node.
import { execFile } from "node:child_process";
import process from "node:process";
import { promisify } from "node:util";
import * as v from "valibot";
import { createRegistry, defineTopic } from "@kshare/kshare";
import { startEmbeddedBroker } from "@kshare/kshare/testing";

const broker = await startEmbeddedBroker();
broker.createTopic("orders", 1);

const orders = defineTopic({
  name: "orders",
  schema: v.object({ id: v.string(), total: v.number() }),
  key: (order) => order.id,
});
const registry = createRegistry();
const producer = await registry.producer({ bootstrapServers: broker.bootstrapServers });
const report = await producer.publish(orders, { id: "o-1", total: 42 });
console.log(`kshare: published to ${report.topic} [${report.partition}] at offset ${report.offset} (${registry.stats().driver?.name})`);
await registry.close();

const kcat = ["-b", broker.bootstrapServers, "-C", "-t", "orders", "-o", "beginning", "-e", "-q", "-f", "%k %s\\n"];
const { stdout } = await promisify(execFile)("kcat", kcat);
process.stdout.write(`kcat: ${stdout}`);
await broker.stop();
