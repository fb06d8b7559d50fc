export type StopSignal = 'SIGINT' | 'SIGTERM' | 'SIGHUP';

/**
 * Stops the process once, on SIGINT (Ctrl-C), SIGTERM or SIGHUP (a closed
 * terminal). Listening starts before anything is opened, so a signal that
 * comes during the start stops the process as soon as it has started, and
 * repeats are ignored: a second Ctrl-C must not kill the process midway and
 * orphan what it started (the embedded PostgreSQL runs in a group of its
 * own). A stop that takes longer than `deadlineSeconds` ends the process
 * with exit 1, saying so.
 */
export function stopOnSignals(deadlineSeconds: (signal: StopSignal) => number): { started(stop: (signal: StopSignal) => Promise<void>): void } {
  let stop: ((signal: StopSignal) => Promise<void>) | undefined;
  let pending: StopSignal | undefined;
  let stopping = false;
  const run = (signal: StopSignal) => {
    stopping = true;
    const seconds = deadlineSeconds(signal);
    setTimeout(() => {
      process.stderr.write(`forgeline: did not stop within ${seconds} s; exiting\n`);
      process.exit(1);
    }, seconds * 1000).unref();
    stop!(signal).then(() => process.exit(0), (err: Error) => {
      process.stderr.write(`forgeline: stopping failed: ${err.message}\n`);
      process.exit(1);
    });
  };
  const onSignal = (signal: StopSignal) => {
    if (stopping) return;
    if (stop) run(signal);
    else pending ??= signal;
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
  return {
    started(fn) {
      stop = fn;
      if (pending) run(pending);
    },
  };
}
