/**
 * Options every merge sink shares, parsed from the sink's configuration
 * object: micro-batch size and time, and the delete policy.
 */
import type { Reader } from '../../config.js';
import type { FlushPolicy } from '../sink.js';
import type { DeletePolicy } from './metadata.js';

export interface MergeOptions {
  readonly flush: FlushPolicy;
  readonly deletePolicy: DeletePolicy;
  /** Drop destination columns the source dropped; default false: kept, NULL from then on. */
  readonly dropColumns: boolean;
}

/** Micro-batches close at 20,000 changes or 250 ms after their first change reached the log, whichever comes first. */
export const DEFAULT_FLUSH: FlushPolicy = { maxEvents: 20_000, maxDelayMs: 250 };

export const MERGE_OPTION_FIELDS = ['flushEvents', 'flushMs', 'deletePolicy', 'dropColumns'] as const;

export function parseMergeOptions(r: Reader, o: Record<string, unknown>, path: string): MergeOptions {
  const deletePolicy = r.str(o, 'deletePolicy', path, /^(hard|soft)$/, '"hard" or "soft"', 'hard') as DeletePolicy;
  return {
    flush: {
      maxEvents: r.int(o, 'flushEvents', path, 1, 1_000_000, DEFAULT_FLUSH.maxEvents),
      maxDelayMs: r.int(o, 'flushMs', path, 0, 60_000, DEFAULT_FLUSH.maxDelayMs),
    },
    deletePolicy,
    dropColumns: parseBool(r, o, 'dropColumns', path),
  };
}

function parseBool(r: Reader, o: Record<string, unknown>, key: string, path: string): boolean {
  const v = o[key];
  if (v === undefined) return false;
  if (typeof v !== 'boolean') r.errors.push(`${path}.${key}: expected true or false`);
  return v === true;
}
