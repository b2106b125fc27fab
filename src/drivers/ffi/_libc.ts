/**
 * Values of the C library that more than one runtime shim passes to it.
 *
 * @module
 */

/** Linux's `O_NONBLOCK` and `O_CLOEXEC`, for `pipe2`: a wake-up pipe never blocks librdkafka's writer nor leaks into a child. */
export const LINUX_PIPE_FLAGS = 0o4000 | 0o2000000;
