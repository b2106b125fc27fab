/**
 * Reading a librdkafka event queue (`rd_kafka_queue_t`) from JavaScript
 * without blocking the JavaScript thread and without busy-waiting.
 *
 * librdkafka delivers everything kshare needs (delivery reports, errors,
 * rebalances, fetched messages, admin results) as events on a queue. Taking
 * an event that is already queued (`rd_kafka_queue_poll(q, 0)`) is cheap and
 * safe on the JavaScript thread; *waiting* for one is not. So each queue only
 * *signals* the JavaScript thread when it gets something, and the waiting
 * side is one function, `signalledQueue`: a Promise settled by that signal,
 * by `wake()`/`close()`, or by its own timer at the caller's deadline. A
 * deadline therefore passes on time even if no signal ever comes. How the
 * signal travels is the one runtime-specific choice, made once here:
 *
 * - Node and Deno ({@link NativeRuntime.wakePipe}): librdkafka writes a byte
 *   to a non-blocking pipe when the queue becomes non-empty
 *   (`rd_kafka_queue_io_event_enable`). On Node libuv watches the pipe and
 *   no thread waits. On Deno, which cannot watch an fd, one `poll(2)` running
 *   as a `nonblocking` FFI call watches every pipe of the process
 *   (`_deno_poller.ts`): one thread of Deno's blocking pool in total.
 * - Bun on Linux: the same pipe, read by Bun's event loop (`Bun.file(fd)`
 *   streams it as bytes arrive).
 * - Bun elsewhere: a `threadsafe` JSCallback given to
 *   `rd_kafka_queue_cb_event_enable` returns to librdkafka at once and runs
 *   on the JavaScript thread later. Bun documents such callbacks as meant for
 *   threads it knows, and on Linux they lost wake-ups (the pipe replaced them).
 *
 * Rejected on Deno: a `threadSafe` callback makes librdkafka's thread wait
 * for the JavaScript thread while it holds the queue's lock (that hung the
 * process); and a blocking `rd_kafka_queue_poll(q, timeout)` per queue as a
 * `nonblocking` call held one thread of Deno's blocking pool per idle client.
 * That pool has 32 threads, shared with file I/O and DNS: once they were
 * taken no further client connected (no timer bounded that wait), file reads
 * and lookups stalled, and closing never returned.
 *
 * A wake-up can be lost: librdkafka signals only when a queue goes from
 * empty to non-empty, so one signal that never arrives would leave the queue
 * unread for good (a producer's delivery reports, and every publish waiting
 * for one), as Bun's thread-safe callbacks did. So a wait also ends
 * every {@link RECHECK_MS} and looks again: a lost signal costs at most that
 * long, and an idle queue one non-blocking `take()` per period.
 *
 * Event loop: an unfinished `next()` keeps the process alive (its timer), so
 * a client that is waiting for something keeps the process running until it
 * is closed. A closed queue leaves nothing behind (its pipe or callback is
 * released), so a process whose clients are all closed can exit.
 *
 * @module
 */
import type { CLIENT_SYMBOLS } from "./_symbols.ts";
import type { NativeRuntime, NativeSymbols, Pointer } from "./_native_types.ts";
import type { Librdkafka } from "./library.ts";

/** One librdkafka queue, read on the JavaScript thread. */
export interface EventQueue {
  /** The queue, e.g. to pass to an API that posts its result there. Valid until {@link close}. */
  readonly queue: Pointer;
  /**
   * The next event, waiting at most `timeoutMs` (`-1`: until an event or
   * {@link wake}). `null` on timeout, on `wake()`, and possibly spuriously:
   * callers loop until their own deadline. The event is owned by the caller,
   * who frees it with `rd_kafka_event_destroy`. At most one `next()` may be
   * pending at a time.
   */
  next(timeoutMs: number): Promise<Pointer | null>;
  /** An event already queued, or `null`, without waiting. Owned by the caller. */
  take(): Pointer | null;
  /** Make a pending `next()` return `null` now. */
  wake(): void;
  /**
   * Stop waiting (a pending `next()` resolves `null`), detach from the queue
   * and drop this reference to it (`rd_kafka_queue_destroy`). Events still
   * queued are freed by librdkafka with the queue or the client.
   */
  close(): Promise<void>;
}

/**
 * Wrap `queue` (a reference this function takes ownership of: it is
 * destroyed by `close()`). The `watched` queues (references the caller keeps
 * and destroys after `close()`) wake a pending `next()` too, which then
 * returns `null`: their caller reads them itself (e.g. the FFI consumer's
 * message queue, read in batches).
 */
export function openEventQueue(rdkafka: Librdkafka, queue: Pointer, watched: readonly Pointer[] = []): EventQueue {
  const { native } = rdkafka;
  const c = rdkafka.client();
  const signalled = [queue, ...watched];
  if (native.wakePipe) return pipeQueue(c, queue, signalled, native.wakePipe);
  if (native.capabilities.threadSafeCallbacks) return callbackQueue(native, c, queue, signalled);
  throw new Error(`the ${native.name} FFI on this platform can neither watch a pipe nor take thread-safe callbacks`);
}

type Client = NativeSymbols<typeof CLIENT_SYMBOLS>;

/** How long a wait goes without looking at the queue, at most: the cost of a lost wake-up signal. */
export const RECHECK_MS = 1_000;

/**
 * Wait for a wake-up signal from C (pipe or callback), with `take()` on the
 * JavaScript thread. Shared by the pipe and callback strategies.
 */
function signalledQueue(c: Client, queue: Pointer, detach: () => void): EventQueue & { signal(): void } {
  let closed = false;
  /** Ends the pending next()'s wait: "signal" = C says the queue got something, "stop" = wake/close, "timeout". */
  let waiter: ((why: "signal" | "stop" | "timeout") => void) | undefined;

  const take = (): Pointer | null => (closed ? null : c.rd_kafka_queue_poll(queue, 0));
  const release = (why: "signal" | "stop" | "timeout") => {
    const resolve = waiter;
    waiter = undefined;
    resolve?.(why);
  };

  return {
    queue,
    signal: () => release("signal"),
    take,
    async next(timeoutMs) {
      if (waiter) throw new Error("EventQueue.next() called while another next() is pending");
      const deadline = timeoutMs < 0 ? Infinity : Date.now() + timeoutMs;
      for (;;) {
        const event = take();
        if (event !== null || closed) return event;
        const remaining = deadline - Date.now();
        if (remaining <= 0) return null;
        // A wake-up from C runs on this thread only after this synchronous
        // section, so an event queued after take() above is never missed.
        // The timer (the caller's deadline, or RECHECK_MS if sooner: then the
        // loop looks again) also keeps the event loop alive while we wait.
        let timer: ReturnType<typeof setTimeout> | undefined;
        const why = await new Promise<"signal" | "stop" | "timeout">((resolve) => {
          waiter = resolve;
          timer = setTimeout(() => release("timeout"), Math.min(remaining, RECHECK_MS));
        });
        clearTimeout(timer);
        if (why === "stop") return null;
        // After a signal, return what is there even if nothing: the queue may
        // have held only an internal op that librdkafka served inside
        // rd_kafka_queue_poll (e.g. the TERMINATE wake-up of a closing
        // consumer), which the caller wants to notice.
        if (why === "signal") return take();
      }
    },
    wake: () => release("stop"),
    close() {
      if (!closed) {
        closed = true;
        detach();
        // Drops our reference; the queue itself lives as long as its client needs it.
        c.rd_kafka_queue_destroy(queue);
      }
      release("stop");
      return Promise.resolve();
    },
  };
}

/**
 * Node and Deno: librdkafka writes to a pipe that the runtime (libuv) or
 * kshare's poller (Deno) watches; every queue in `signalled` writes to it.
 */
function pipeQueue(c: Client, queue: Pointer, signalled: readonly Pointer[], wakePipe: NonNullable<NativeRuntime["wakePipe"]>): EventQueue {
  // The pipe is ours: closed by q.close(), after librdkafka stopped writing to it.
  // (Its wake-ups run on a later event-loop turn, when q exists.)
  const pipe = wakePipe(() => q.signal());
  const q = signalledQueue(c, queue, () => {
    // Stop librdkafka writing before the pipe's fds are closed (and reused).
    for (const each of signalled) c.rd_kafka_queue_io_event_enable(each, -1, null, 0);
    pipe.close();
  });
  // librdkafka keeps a copy of the one-byte payload.
  for (const each of signalled) c.rd_kafka_queue_io_event_enable(each, pipe.writeFd, new Uint8Array([1]), 1);
  return q;
}

/** Bun: librdkafka calls a threadsafe callback that returns at once; every queue in `signalled` calls it. */
function callbackQueue(native: NativeRuntime, c: Client, queue: Pointer, signalled: readonly Pointer[]): EventQueue {
  // void event_cb(rd_kafka_t *rk, void *qev_opaque): both arguments unused.
  // The trampoline is ours: released by q.close(), after librdkafka let go of it.
  // (It is only enabled below, when q exists.)
  const callback = native.callback({ args: ["ptr", "ptr"], ret: "void" }, () => q.signal(), { threadSafe: true });
  const q = signalledQueue(c, queue, () => {
    // After this returns no librdkafka thread is inside the callback (it is
    // called under the queue lock that this call takes). Calls it already
    // queued to the JavaScript thread run before the timer below; only then
    // is the trampoline released.
    for (const each of signalled) c.rd_kafka_queue_cb_event_enable(each, null, null);
    setTimeout(() => callback.close(), 0);
  });
  for (const each of signalled) c.rd_kafka_queue_cb_event_enable(each, callback.pointer, null);
  return q;
}
