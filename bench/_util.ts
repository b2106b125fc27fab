/**
 * Helpers shared by the benchmark scripts (not part of kshare's API).
 *
 * Everything here uses `node:*` modules only, which Deno, Bun and Node all
 * provide, so every script in `bench/` runs unchanged on the three runtimes.
 * Memory and CPU are read from `/proc/self` where it exists: it counts every
 * thread of the process (librdkafka's included) and means the same thing on
 * every runtime, which the runtimes' own counters do not always do.
 *
 * @module
 */
import { readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import process from "node:process";
import * as v from "valibot";
import { defineTopic, type Producer, QueueFullError, type Topic } from "../mod.ts";
import { runtimeCommand, runtimeName, startServer, statusBytes } from "./_child.ts";

/** Resident set size of this process now, in bytes. */
export function rssBytes(): number {
  return statusBytes("VmRSS") ?? process.memoryUsage().rss;
}

/**
 * Peak resident set size of this process so far (the kernel's high-water
 * mark, so a short spike between two samples is not missed), in bytes.
 */
export function peakRssBytes(): number {
  return statusBytes("VmHWM") ?? rssBytes();
}

/** Resident set size of another process (`pid`) now; undefined once it is gone. */
export function rssOf(pid: number): number | undefined {
  return statusBytes("VmRSS", pid);
}

/** Clock ticks per second of `/proc/<pid>/stat` times: USER_HZ, 100 on every Linux ABI kshare runs on. */
const USER_HZ = 100;

/**
 * CPU time used by this whole process (all threads, user + system) so far, in
 * seconds. `/proc/self/stat` has 10 ms resolution, enough for the idle check
 * (1% of a core over 10 s is 100 ms); elsewhere `process.cpuUsage()`.
 */
export function cpuSeconds(): number {
  try {
    // Fields after the command name (which may contain spaces) start at field 3: utime is 14, stime 15.
    const stat = readFileSync("/proc/self/stat", "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
  } catch {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1e6;
  }
}

/**
 * CPU seconds used so far by each thread of this process, keyed `name/tid`
 * (names as the kernel has them: `rdk:main`, `rdk:broker1`, the runtime's
 * own). Empty off Linux. Two readings subtracted say which thread spent what.
 */
export function threadCpuSeconds(): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[];
  try {
    tids = readdirSync("/proc/self/task");
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.set(`${name}/${tid}`, (Number(fields[11]) + Number(fields[12])) / USER_HZ);
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** Threads of this process now (librdkafka starts several per client). */
export function threadCount(): number | undefined {
  try {
    return Number(readFileSync("/proc/self/status", "utf8").match(/^Threads:\s+(\d+)/m)?.[1]);
  } catch {
    return undefined;
  }
}

/** What the results files say about the machine. */
export function machineInfo(): { cpu: string; cores: number; memory: string; os: string } {
  return {
    cpu: os.cpus()[0]?.model.trim() ?? "unknown",
    cores: os.cpus().length,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
  };
}

/** Bytes as MiB with one decimal, e.g. `123.4 MiB`. */
export function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** An integer with thousands separators, e.g. `1,000,000`. */
export function int(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** Size in bytes of every benchmark message on the wire. */
export const MESSAGE_BYTES = 100;

/**
 * The value every benchmark message carries: a string whose JSON encoding
 * (kshare's default serializer) is exactly {@link MESSAGE_BYTES} bytes, so the
 * record goes through the same validate → serialize → produce path as an
 * application's would. `MESSAGE_LINE` is the same 100 bytes as kcat reads them.
 */
export const MESSAGE_VALUE: string = "k".repeat(MESSAGE_BYTES - 2);
/** {@link MESSAGE_VALUE} as JSON text: the bytes kshare puts on the wire. */
export const MESSAGE_LINE: string = JSON.stringify(MESSAGE_VALUE);

/** A benchmark topic: string values, no key, kshare's defaults otherwise. */
export function benchTopic(name: string, maxBufferedMessages?: number): Topic<v.StringSchema<undefined>> {
  return defineTopic({
    name,
    schema: v.string(),
    ...(maxBufferedMessages === undefined ? {} : { consumer: { maxBufferedMessages } }),
  });
}

/**
 * Run `send` `count` times and resolve once every returned promise resolved,
 * keeping at most `inFlight` outstanding (0: no bound, all started at once).
 * Each completion starts the next, so the producer queue never runs dry; a
 * bounded window is how a long-running service publishes: memory stays flat
 * however many records go through. `onDone(n)` runs after the n-th
 * completion. Rejects with the first failure.
 */
export function runWindowed(
  count: number,
  inFlight: number,
  send: () => Promise<unknown>,
  onDone?: (completed: number) => void,
): Promise<void> {
  const limit = inFlight > 0 ? inFlight : Infinity;
  return new Promise<void>((resolve, reject) => {
    let sent = 0;
    let completed = 0;
    let failed = false;
    const fail = (error: unknown) => {
      if (!failed) reject(error);
      failed = true;
    };
    const done = () => {
      completed++;
      onDone?.(completed);
      if (completed === count) resolve();
      else fill();
    };
    const fill = () => {
      while (!failed && sent < count && sent - completed < limit) {
        sent++;
        send().then(done, fail);
      }
    };
    if (count === 0) resolve();
    else fill();
  });
}

/** Publish `count` copies of {@link MESSAGE_VALUE} through kshare, at most `inFlight` at a time (see {@link runWindowed}). */
export function publishAll(
  producer: Producer,
  topic: Topic<v.StringSchema<undefined>>,
  count: number,
  inFlight: number,
  onDelivered?: (delivered: number) => void,
): Promise<void> {
  return runWindowed(count, inFlight, () => producer.publish(topic, MESSAGE_VALUE), onDelivered);
}

/**
 * Publish `count` records with `publishAndForget` and resolve once the
 * producer holds none (`flush`). Every `yieldEvery` records (0: never) the
 * loop lets the event loop run, so that delivery reports free room while it
 * publishes; a record refused with `QueueFullError` (the producer holds
 * `maxWaitingRecords` waiting) is sent again after `flush()`, as an
 * application that must not drop it would.
 */
export async function forgetAll(
  producer: Producer,
  topic: Topic<v.StringSchema<undefined>>,
  count: number,
  yieldEvery: number,
): Promise<void> {
  for (let sent = 0; sent < count;) {
    try {
      producer.publishAndForget(topic, MESSAGE_VALUE);
    } catch (error) {
      if (!(error instanceof QueueFullError)) throw error;
      await producer.flush(FORGET_FLUSH_TIMEOUT_MS);
      continue;
    }
    sent++;
    if (yieldEvery > 0 && sent % yieldEvery === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  await producer.flush(FORGET_FLUSH_TIMEOUT_MS);
}

/** Bound of {@link forgetAll}'s waits for delivery. */
const FORGET_FLUSH_TIMEOUT_MS = 120_000;

/** A broker process started by {@link spawnBroker}. */
export interface BrokerProcess {
  readonly bootstrapServers: string;
  /** End the process (closing its standard input) and wait for it to exit. */
  stop(): Promise<void>;
}

/**
 * Start `bench/broker.ts` on this runtime as a child process with the given
 * topics (`name → partitions`) and resolve once it listens. The child ends
 * when this process closes its standard input, so it never outlives us.
 */
export async function spawnBroker(options: { brokers: number; topics: Readonly<Record<string, number>> }): Promise<BrokerProcess> {
  const topics = Object.entries(options.topics).map(([name, partitions]) => `--topic=${name}:${partitions}`);
  const [command, args] = runtimeCommand(runtimeName(), "bench/broker.ts", [`--brokers=${options.brokers}`, ...topics]);
  const server = await startServer(command, args, /^\{/);
  return { bootstrapServers: (JSON.parse(server.ready) as { bootstrapServers: string }).bootstrapServers, stop: server.stop };
}
