/**
 * Where the capture meets snapshot watermarks (agent/snapshot/), both modes
 * (snapshot.ts): signal-table rows, and read-only watermarks — a low one
 * opens its window at the capture's current point, a high one closes when
 * the binlog has been read up to the snapshot's position and no transaction
 * is open. The read position is the end of the last event read (a rotate's
 * start, or a heartbeat's position: the server sends one only when it has
 * nothing more), as file number × 2^32 + offset, like commit positions.
 */
import { WATERMARK_PREFIX, type SnapshotEmission, type SnapshotHooks } from '../../snapshot/snapshot-source.js';
import type { MySqlChunkMeta } from './snapshot.js';

type Emission = SnapshotEmission<MySqlChunkMeta>;

export class CaptureWatermarks {
  private readPosition = 0n;
  /** High watermarks waiting for their position, in the order written (their positions never decrease). */
  private readonly highs: { id: string; position: bigint }[] = [];

  constructor(private readonly hooks: SnapshotHooks<MySqlChunkMeta> | null) {}

  /** How far the binlog has been read. */
  get position(): bigint {
    return this.readPosition;
  }

  /** Emissions of inserted signal-table rows that carry our watermark ids. */
  signalRows(rows: readonly Record<string, unknown>[]): Emission[] {
    const out: Emission[] = [];
    for (const row of rows) {
      const id = row['id'];
      if (typeof id !== 'string' || !id.startsWith(WATERMARK_PREFIX)) continue;
      const emission = this.hooks?.watermark(id) ?? null;
      if (emission !== null) out.push(emission);
    }
    return out;
  }

  low(id: string): void {
    this.hooks?.watermark(id);
  }

  high(id: string, position: bigint): void {
    this.highs.push({ id, position });
  }

  /** The binlog was read up to `position`. */
  reached(position: bigint): void {
    if (position > this.readPosition) this.readPosition = position;
  }

  /** Emissions of high watermarks whose position was read; call between transactions only. */
  due(): Emission[] {
    const out: Emission[] = [];
    while (this.highs.length > 0 && this.highs[0]!.position <= this.readPosition) {
      const emission = this.hooks?.watermark(this.highs.shift()!.id) ?? null;
      if (emission !== null) out.push(emission);
    }
    return out;
  }
}
