// Stopping the long-running commands (tail, stats --watch) cleanly.

/**
 * An AbortSignal that aborts on the first SIGINT or SIGTERM, so a command
 * can settle (ack, release) and exit 0; a second signal exits at once with
 * 130. `release()` removes the handlers.
 */
export function stopOnSignal() {
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return {
    signal: controller.signal,
    /** Aborts as a signal would: the command settles and ends. */
    stop: () => controller.abort(),
    release() {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}

/** Waits `ms`, or less when `signal` aborts first. */
export const sleep = (ms, signal) =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done);
  });
