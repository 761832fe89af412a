/**
 * The capture's side of snapshots (agent/snapshot/): tells the engine what
 * the stream shows, in log order — changed keys, truncates, watermarks (as
 * logical decoding messages or signal-table inserts) — and checks, at a high
 * watermark, that the chunk's SELECT saw every transaction the log committed
 * before its low watermark. PostgreSQL writes a commit record before the
 * transaction leaves the proc array, so for a moment a transaction can be in
 * the log before the low watermark yet invisible to a snapshot taken after
 * it; the chunk's rows would then be older than the log's. Such a chunk is
 * read again.
 */
import { Op } from '../../../proto/gen/tributary/v1/change_pb.js';
import { AgentError } from '../../errors.js';
import type { SnapshotEmission, SnapshotHooks } from '../../snapshot/snapshot-source.js';
import type { RowConverter } from './convert.js';
import type { TupleData } from './protocol.js';
import type { PgChunkMeta } from './snapshot.js';
import { tupleTexts } from './tuple-text.js';

/** Snapshot wiring: the engine's hooks, and the signal table when watermarks are rows. */
export interface CaptureSnapshots {
  readonly hooks: SnapshotHooks<PgChunkMeta>;
  /** `schema.table` whose inserts are watermarks (column `id`), or null for logical decoding messages. */
  readonly signalTable: string | null;
}

/** Recent commits remembered (a chunk's in-progress list can only name recent ones). */
const RECENT = 100_000;

/** Insertion-ordered map with a bound: the oldest entry goes first. */
function remember<K>(map: Map<K, number>, key: K, value: number): void {
  map.set(key, value);
  if (map.size > RECENT) map.delete(map.keys().next().value as K);
}

export class CaptureSnapshotHooks {
  /** Commit order of recent transactions (xid → commit count), and the count when each watermark was seen. */
  private readonly commitOrder = new Map<number, number>();
  private readonly watermarkOrder = new Map<string, number>();
  private commits = 0;

  constructor(private readonly config: CaptureSnapshots) {}

  get signalTable(): string | null {
    return this.config.signalTable;
  }

  watching(table: string): boolean {
    return this.config.hooks.watching(table);
  }

  changed(table: string, key: Uint8Array): void {
    this.config.hooks.changed(table, key);
  }

  truncated(table: string): void {
    this.config.hooks.truncated(table);
  }

  committed(xid: number): void {
    remember(this.commitOrder, xid, ++this.commits);
  }

  /** The watermark id a signal-table row carries (inserts only), or null. */
  signalId(table: string, converter: RowConverter, op: Op, newTuple: TupleData | null): string | null {
    if (op !== Op.INSERT || newTuple === null) return null;
    const idColumn = converter.columns.findIndex((c) => c.name === 'id');
    if (idColumn < 0) throw new AgentError('source-misconfigured', `signal table ${table} has no column "id"`);
    return tupleTexts(newTuple, [idColumn])[0] ?? null;
  }

  /**
   * A watermark seen in the log: at a high watermark, the chunk rows to write
   * right here; null for a low watermark, an unknown id, or a chunk to read
   * again (the engine is told).
   */
  watermark(id: string): SnapshotEmission<PgChunkMeta> | null {
    remember(this.watermarkOrder, id, this.commits);
    const emission = this.config.hooks.watermark(id);
    if (emission === null) return null;
    const low = this.watermarkOrder.get(emission.lowId);
    const hidden = low === undefined ? undefined : emission.meta.inProgress.find((x) => (this.commitOrder.get(x) ?? Infinity) <= low);
    if (hidden === undefined) return emission;
    emission.rejected(`transaction ${hidden} committed before the low watermark but was not yet visible to the chunk SELECT`);
    return null;
  }
}
