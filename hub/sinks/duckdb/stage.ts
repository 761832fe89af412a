/**
 * Stages one collapsed run into a temporary table through DuckDB's appender
 * (typed values, no SQL text): one row per key, metadata and the UNCHANGED
 * mask after the data columns (layout in merge/merge-sql.ts).
 */
import { DuckDBTimestampTZValue, type DuckDBConnection } from '@duckdb/node-api';
import { UNCHANGED, type Value } from '../../../proto/tributary/v1/row-codec.js';
import type { Entry } from '../merge/collapse.js';
import { OP_CHAR } from '../merge/metadata.js';
import type { DuckTablePlan } from './ddl.js';
import { duckType, toDuck } from './types.js';

export async function stageRun(conn: DuckDBConnection, stageName: string, plan: DuckTablePlan, entries: Iterable<Entry>): Promise<{ rows: number; partial: boolean }> {
  const appender = await conn.createAppender(stageName, 'main', 'temp');
  const types = plan.columns.map((c) => duckType(c.column, c.dialect));
  let rows = 0;
  let partial = false;
  try {
    for (const e of entries) {
      const values: readonly Value[] = e.kind === 'upsert' ? e.row : keyOnly(plan, e.key);
      let mask = '';
      plan.columns.forEach((c, i) => {
        const v = values[i] ?? null;
        if (v === UNCHANGED) {
          mask += '1';
          appender.appendNull();
          return;
        }
        mask += '0';
        try {
          appender.appendValue(toDuck(v, c.column, c.dialect), types[i]);
        } catch (cause) {
          throw new RangeError(`table ${plan.source} column ${JSON.stringify(c.name)}: ${(cause as Error).message}`, { cause });
        }
      });
      const ch = e.change;
      appender.appendBigInt(ch.position.commit);
      appender.appendInteger(ch.position.index);
      appender.appendVarchar(e.kind === 'delete' ? 'd' : OP_CHAR[ch.op]);
      appender.appendTimestampTZ(new DuckDBTimestampTZValue(ch.commitTimeUs));
      appender.appendNull();
      if (mask.includes('1')) {
        partial = true;
        appender.appendVarchar(mask);
      } else appender.appendNull();
      appender.endRow();
      rows++;
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
  return { rows, partial };
}

/** A delete stages its key; other columns are NULL (and never read: deletes only match). */
function keyOnly(plan: DuckTablePlan, key: readonly Value[]): Value[] {
  const row: Value[] = plan.columns.map(() => null);
  plan.keyIndexes.forEach((col, j) => (row[col] = key[j] ?? null));
  return row;
}
