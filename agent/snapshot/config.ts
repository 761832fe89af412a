/**
 * `source.snapshot`, the same for every source:
 * `{ initial: false, chunkRows: 10000, maxRowsPerSecond: 0, signalTable: null }`.
 * Parsed with the agent's FieldReader so errors name the field path.
 */
import type { FieldReader } from '../config.js';
import type { SnapshotSettings } from './engine.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface SnapshotConfig extends SnapshotSettings {
  /** `schema.table` whose inserts are the watermarks, when the source cannot write them otherwise; null = the source's default. */
  readonly signalTable: string | null;
}

export const DEFAULT_SNAPSHOT: SnapshotConfig = { initial: false, chunkRows: 10_000, maxRowsPerSecond: 0, signalTable: null };

const TABLE = /^[A-Za-z_][A-Za-z0-9_$]*\.[A-Za-z_][A-Za-z0-9_$]*$/;

export function parseSnapshotConfig(r: FieldReader, v: Json | undefined, path: string): SnapshotConfig {
  if (v === undefined) return DEFAULT_SNAPSHOT;
  const o = r.object(v, path);
  r.unknownKeys(o, ['initial', 'chunkRows', 'maxRowsPerSecond', 'signalTable'], path);
  return {
    initial: r.bool(o, 'initial', path, DEFAULT_SNAPSHOT.initial),
    chunkRows: r.int(o, 'chunkRows', path, 1, 1_000_000, DEFAULT_SNAPSHOT.chunkRows),
    maxRowsPerSecond: r.int(o, 'maxRowsPerSecond', path, 0, 1_000_000_000, DEFAULT_SNAPSHOT.maxRowsPerSecond),
    signalTable: o['signalTable'] === undefined ? null : r.string(o, 'signalTable', path, { pattern: TABLE, hint: 'a "schema.table" name' }),
  };
}
