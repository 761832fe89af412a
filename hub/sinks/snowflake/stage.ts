/**
 * Staged files: one gzip'd JSON line per row, `[data..., lsn, index, op,
 * commit time, unchanged mask]`, each value in the JSON form of types.ts;
 * and the COPY statement that loads such a file into a staging table.
 */
import { UNCHANGED, type Value } from '../../../proto/tributary/v1/row-codec.js';
import type { Entry } from '../merge/collapse.js';
import { OP_CHAR } from '../merge/metadata.js';
import type { SinkChange } from '../sink.js';
import { UNCHANGED_COL, M, type SnowTablePlan } from './ddl.js';
import { mappingOf } from './types.js';

/** One staged row: values (UNCHANGED allowed), the change it comes from and the op it applies. */
export interface StagedRow {
  readonly values: readonly Value[];
  readonly change: SinkChange;
  readonly op: string;
}

export function rowsOfEntries(plan: SnowTablePlan, entries: Iterable<Entry>): StagedRow[] {
  const out: StagedRow[] = [];
  for (const e of entries) out.push(e.kind === 'upsert' ? { values: e.row, change: e.change, op: OP_CHAR[e.change.op] } : { values: keyOnly(plan, e.key), change: e.change, op: 'd' });
  return out;
}

export function keyOnly(plan: SnowTablePlan, key: readonly Value[]): Value[] {
  const row: Value[] = plan.columns.map(() => null);
  plan.keyIndexes.forEach((col, j) => (row[col] = key[j] ?? null));
  return row;
}

export function commitTimeText(us: bigint): string {
  return new Date(Number(us / 1000n)).toISOString().replace('T', ' ').replace(/\.\d+Z$/, '') + `.${String(us % 1_000_000n).padStart(6, '0')}+00:00`;
}

/** JSON lines for the rows; `partial` tells whether any row carries UNCHANGED values. */
export function stagedLines(plan: SnowTablePlan, rows: readonly StagedRow[]): { text: string; partial: boolean } {
  let partial = false;
  const lines = rows.map((r) => {
    let mask = '';
    const parts = plan.columns.map((c, i) => {
      const v = r.values[i] ?? null;
      if (v === UNCHANGED) {
        mask += '1';
        return 'null';
      }
      mask += '0';
      if (v === null) return 'null';
      try {
        return mappingOf(c.column).json(v, c.column, c.dialect);
      } catch (cause) {
        throw new RangeError(`table ${plan.source} column ${JSON.stringify(c.name)}: ${(cause as Error).message}`, { cause });
      }
    });
    const hasMask = mask.includes('1');
    partial ||= hasMask;
    const p = r.change.position;
    parts.push(JSON.stringify(p.commit.toString()), String(p.index), JSON.stringify(r.op), JSON.stringify(commitTimeText(r.change.commitTimeUs)), hasMask ? JSON.stringify(mask) : 'null');
    return `[${parts.join(',')}]`;
  });
  return { text: lines.join('\n') + '\n', partial };
}

export function copySql(stageTable: string, plan: SnowTablePlan, stageRef: string): string {
  const n = plan.columns.length;
  const exprs = plan.columns.map((c, i) => mappingOf(c.column).load(`$1[${i}]`, c.column, c.dialect));
  exprs.push(`$1[${n}]::VARCHAR::NUMBER(20,0)`, `$1[${n + 1}]::VARCHAR::NUMBER(10,0)`, `$1[${n + 2}]::VARCHAR`, `$1[${n + 3}]::VARCHAR::TIMESTAMP_TZ(6)`, `$1[${n + 4}]::VARCHAR`);
  const cols = [...plan.columns.map((c) => c.ident), M.lsn, M.index, M.op, M.commitTime, UNCHANGED_COL];
  return `COPY INTO ${stageTable} (${cols.join(', ')}) FROM (SELECT ${exprs.join(', ')} FROM ${stageRef}) FILE_FORMAT = (TYPE = JSON)`;
}
