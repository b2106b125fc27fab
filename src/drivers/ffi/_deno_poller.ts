/**
 * Wake-up pipes on Deno, watched by one `poll(2)` for the whole process: the
 * {@link NativeRuntime.wakePipe} of `_deno.ts`.
 *
 * Deno has no way to watch a file descriptor from JavaScript, and a
 * `nonblocking` FFI call holds a thread of Deno's blocking pool (32 threads,
 * shared with file I/O and DNS) until it returns. So one such call waits for
 * every pipe at once: `poll` over the read end of each registered pipe plus a
 * control pipe. When it returns, the readable pipes are drained and their
 * callbacks run on the JavaScript thread, and the next `poll` is issued over
 * the current set. Adding or removing a pipe writes a byte to the control
 * pipe, so the `poll` in flight returns and the set is rebuilt.
 *
 * Threads: only `poll` runs off the JavaScript thread; `pipe`, `read`,
 * `write` and `close` run on it and return at once (every fd is
 * non-blocking).
 *
 * Lifetimes: a pipe's fds belong to the {@link WakePipe}; `close()` closes
 * them at once when no `poll` is in flight, else just after it returned,
 * never while it may watch them (a closed fd number is soon reused by another
 * pipe or socket). The control pipe lives as long as the process. A `poll` is
 * in flight only while a pipe is registered, and a pending call keeps Deno's
 * event loop alive: with every pipe closed, a process can exit.
 *
 * @module
 */
import type { NativeRuntime, WakePipe } from "./_native_types.ts";

/** The libc calls the poller makes, bound by `_deno.ts`. */
export interface PollerLibc {
  /** A new pipe, both ends non-blocking and close-on-exec, owned by the caller: `[read end, write end]`. Throws on failure. */
  pipe(): readonly [readFd: number, writeFd: number];
  /** `read(2)` into `buffer` (JavaScript memory, used during the call only): bytes read, 0 at EOF, -1 on error (EAGAIN: empty). */
  read(fd: number, buffer: Uint8Array): number | bigint;
  /** `write(2)` of `buffer` (used during the call only): bytes written, or -1 (EAGAIN: full). */
  write(fd: number, buffer: Uint8Array): number | bigint;
  /** `close(2)`. */
  close(fd: number): void;
  /**
   * `poll(2)` of the `count` entries of `fds` (a `struct pollfd[]`), with no
   * timeout, on a thread of Deno's blocking pool. That thread reads and
   * writes `fds` until the Promise settles: the caller keeps it alive and
   * does not touch it meanwhile. Resolves with `poll`'s result (-1: error,
   * with errno on that thread, unreadable here).
   */
  poll(fds: Uint8Array, count: number): Promise<number>;
}

/** `struct pollfd { int fd; short events; short revents; }`, the same on Linux and macOS. */
const POLLFD = { size: 8, fd: 0, events: 4, revents: 6 } as const;
/** Same value on Linux and macOS. */
const POLLIN = 0x1;

/** The poller over `libc`: its `wakePipe`. Make one per process (each owns a control pipe and a poll thread). */
export function sharedPoller(libc: PollerLibc): NonNullable<NativeRuntime["wakePipe"]> {
  interface Watch {
    readonly fd: number;
    readonly onWake: () => void;
    /** False once its WakePipe is closed: a poll result for it is ignored. */
    open: boolean;
  }
  const watches = new Set<Watch>();
  /** Made with the first pipe; never closed. */
  let control: readonly [readFd: number, writeFd: number] | undefined;
  /** The loop below is running (a poll is in flight, or its result is being handled). */
  let running = false;
  /** A poll is in flight: no fd of `watches` may be closed now. */
  let inFlight = false;
  /** A byte sits unread in the control pipe: the poll in flight returns (or returned) anyway. */
  let poked = false;
  /** fds of pipes closed while a poll was in flight, closed once it returned. */
  let deferred: number[] = [];
  const scratch = new Uint8Array(64);
  const byte = new Uint8Array([1]);

  const drain = (fd: number) => {
    while (libc.read(fd, scratch) > 0) {
      // every pending wake-up byte
    }
  };
  const poke = () => {
    if (!inFlight || poked) return;
    poked = true;
    libc.write(control![1], byte);
  };

  async function run(): Promise<void> {
    try {
      while (watches.size > 0) {
        const polled = [...watches];
        // Its own array per poll: the pool thread writes revents into it.
        const fds = new Uint8Array(POLLFD.size * (polled.length + 1));
        const view = new DataView(fds.buffer);
        const entry = (i: number, fd: number) => {
          view.setInt32(i * POLLFD.size + POLLFD.fd, fd, true);
          view.setInt16(i * POLLFD.size + POLLFD.events, POLLIN, true);
        };
        entry(0, control![0]);
        polled.forEach((watch, i) => entry(i + 1, watch.fd));
        inFlight = true;
        let ready: number;
        try {
          ready = await libc.poll(fds, polled.length + 1);
        } finally {
          inFlight = false;
          for (const fd of deferred) libc.close(fd);
          deferred = [];
        }
        // -1 is EINTR in practice (fds are valid, the array is ours): poll again.
        if (ready <= 0) continue;
        if (view.getInt16(POLLFD.revents, true) !== 0) {
          drain(control![0]);
          poked = false;
        }
        polled.forEach((watch, i) => {
          if (!watch.open || view.getInt16((i + 1) * POLLFD.size + POLLFD.revents, true) === 0) return;
          drain(watch.fd);
          try {
            watch.onWake();
          } catch (error) {
            // Reported as uncaught; the other pipes are still served.
            queueMicrotask(() => {
              throw error;
            });
          }
        });
      }
    } finally {
      running = false;
    }
  }

  return (onWake) => {
    control ??= libc.pipe();
    const [readFd, writeFd] = libc.pipe();
    const watch: Watch = { fd: readFd, onWake, open: true };
    watches.add(watch);
    if (running) poke(); // the poll in flight does not watch it yet
    else {
      running = true;
      void run();
    }
    return {
      writeFd,
      close() {
        if (!watch.open) return;
        watch.open = false;
        watches.delete(watch);
        if (inFlight) {
          deferred.push(readFd, writeFd);
          poke(); // so the close is not deferred for long, and the loop ends with the last pipe
        } else {
          libc.close(readFd);
          libc.close(writeFd);
        }
      },
    } satisfies WakePipe;
  };
}
