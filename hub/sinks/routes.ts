/**
 * Which sources a sink applies, read by the sink's driver on every batch so
 * that pipeline changes take effect at run time.
 *
 * Pausing cannot skip entries: a sink records ONE log offset (its ledger),
 * so an entry passed over could never be applied later. A held source
 * therefore stops the sink just before that source's next entry; the sink
 * resumes exactly there. A sink shared with other pipelines waits with it.
 */
export interface SinkRoutes {
  /** True when the sink applies the entries of `sourceKey` (`agent/source`). */
  has(sourceKey: string): boolean;
  /** Every source routed to the sink now (for status and freshness). */
  list(): string[];
  /** True when the sink must stop before the next entry of `sourceKey` (its pipelines are paused). */
  held(sourceKey: string): boolean;
  /** Resolves at the next routing change, or when the signal aborts. */
  changed(signal: AbortSignal): Promise<void>;
}

/** Fixed routes (no pipeline store): the given sources, never held. */
export function fixedRoutes(sources: ReadonlySet<string>): SinkRoutes {
  return {
    has: (k) => sources.has(k),
    list: () => [...sources],
    held: () => false,
    changed: (signal) => new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true })),
  };
}
