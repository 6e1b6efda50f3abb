// Stopping the long-running commands (tail, stats --watch) cleanly.

/**
 * An AbortSignal that aborts on the first SIGINT or SIGTERM, or when stdout
 * is closed (the reader of a pipe is gone), so a command can settle (ack,
 * release) and exit 0; a second signal exits at once with 130. `release()`
 * removes the handlers.
 */
export function stopOnSignal() {
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
  };
  const onClosed = () => controller.abort();
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.stdout.on("error", onClosed);
  return {
    signal: controller.signal,
    release() {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      process.stdout.off("error", onClosed);
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
