import type { SinkChange } from '../sink.js';

/**
 * Consecutive changes of the same table version and kind (truncate or row
 * change), in batch order. Each run is applied as one merge; a truncate
 * between two runs of one table keeps its place in the order.
 */
export function splitRuns(changes: readonly SinkChange[]): SinkChange[][] {
  const runs: SinkChange[][] = [];
  let current: SinkChange[] = [];
  let currentKey = '';
  for (const change of changes) {
    const s = change.schema;
    const key = JSON.stringify([change.op === 'truncate', s.schema, s.table, s.version]);
    if (key !== currentKey && current.length > 0) {
      runs.push(current);
      current = [];
    }
    currentKey = key;
    current.push(change);
  }
  if (current.length > 0) runs.push(current);
  return runs;
}
