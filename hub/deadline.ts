/**
 * A signal that aborts when its parent does or when a deadline passes.
 *
 * Not `AbortSignal.any([parent, AbortSignal.timeout(ms)])`: Node holds a
 * timeout signal only weakly until it fires, so a garbage collection during
 * the wait collects it and the combined signal never aborts (Node 20 does
 * this; nodejs/node#57736). A sink worker waiting for more changes then
 * stalled until a new change happened to arrive. Here the timer holds the
 * controller strongly, and `clear()` ends both the timer and the listener.
 */
export interface DeadlineSignal {
  readonly signal: AbortSignal;
  /** Stops the timer and detaches from the parent; call when the wait is over. */
  clear(): void;
}

export function deadlineSignal(parent: AbortSignal, ms: number): DeadlineSignal {
  const ac = new AbortController();
  const onParent = (): void => ac.abort(parent.reason);
  const timer = setTimeout(() => ac.abort(new DOMException(`no answer within ${ms} ms`, 'TimeoutError')), Math.max(0, ms));
  // Like AbortSignal.timeout's timer: it never keeps the process alive by itself.
  timer.unref();
  const clear = (): void => {
    clearTimeout(timer);
    parent.removeEventListener('abort', onParent);
  };
  if (parent.aborted) ac.abort(parent.reason);
  else parent.addEventListener('abort', onParent, { once: true });
  ac.signal.addEventListener('abort', clear, { once: true });
  return { signal: ac.signal, clear };
}
