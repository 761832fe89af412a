/**
 * Schema history per source table, read from the hub log (which stores every
 * version with the data, so nothing else must be kept or rebuilt: a restarted
 * hub, or any hub on a shared Kafka log, answers from the log's records).
 */
import { ValueKind, type TableSchema } from '../../proto/gen/tributary/v1/change_pb.js';
import type { IngestLog, SchemaRecord } from '../log/change-log.js';
import { diffSchemas, type SchemaDiff } from './schema-diff.js';

export interface VersionView {
  readonly version: number;
  /** Source position from which this version applies (PostgreSQL LSN / MySQL binlog position, as a decimal string). */
  readonly sincePosition: string;
  readonly firstSeenAt: string | null;
  readonly dialect: string;
  readonly columns: readonly { name: string; type: string; kind: string; key: boolean; nullable: boolean }[];
  readonly key: readonly string[];
  /** Against the previous version; for the first version, every column is `added`. */
  readonly diff: SchemaDiff;
}

export interface TableSummary {
  readonly agent: string;
  readonly source: string;
  readonly schema: string;
  readonly table: string;
  readonly version: number;
  readonly versions: number;
  readonly sincePosition: string;
  readonly firstSeenAt: string | null;
  readonly changedAt: string | null;
}

/** `agent/source` → its records, grouped by table, versions ascending. */
export function groupByTable(records: readonly SchemaRecord[]): Map<string, SchemaRecord[]> {
  const out = new Map<string, SchemaRecord[]>();
  for (const r of records) {
    const k = tableKey(r.sourceKey, r.schema.schema, r.schema.table);
    let list = out.get(k);
    if (list === undefined) out.set(k, (list = []));
    list.push(r);
  }
  for (const list of out.values()) list.sort((a, b) => a.schema.version - b.schema.version);
  return out;
}

export function tableKey(sourceKey: string, schema: string, table: string): string {
  return JSON.stringify([sourceKey, schema, table]);
}

const iso = (us: number): string | null => (us > 0 ? new Date(us / 1000).toISOString() : null);

export function versionViews(records: readonly SchemaRecord[]): VersionView[] {
  let prev: TableSchema | undefined;
  return records.map((r) => {
    const s = r.schema;
    const view: VersionView = {
      version: s.version,
      sincePosition: s.sincePosition.toString(),
      firstSeenAt: iso(r.firstSeenUs),
      dialect: s.sourceDialect === '' ? 'postgres' : s.sourceDialect,
      columns: s.columns.map((c) => ({ name: c.name, type: c.sourceType, kind: ValueKind[c.kind]?.toLowerCase() ?? String(c.kind), key: c.key, nullable: c.nullable })),
      key: s.columns.filter((c) => c.key).map((c) => c.name),
      diff: diffSchemas(prev, s),
    };
    prev = s;
    return view;
  });
}

export function summaries(log: Pick<IngestLog, 'schemaRecords'>, visible: (sourceKey: string) => boolean): TableSummary[] {
  const out: TableSummary[] = [];
  for (const list of groupByTable(log.schemaRecords().filter((r) => visible(r.sourceKey))).values()) {
    const first = list[0] as SchemaRecord;
    const last = list[list.length - 1] as SchemaRecord;
    const [agent = '', source = ''] = last.sourceKey.split('/');
    out.push({
      agent,
      source,
      schema: last.schema.schema,
      table: last.schema.table,
      version: last.schema.version,
      versions: list.length,
      sincePosition: last.schema.sincePosition.toString(),
      firstSeenAt: iso(first.firstSeenUs),
      changedAt: iso(last.firstSeenUs),
    });
  }
  return out.sort((a, b) => `${a.agent}/${a.source}/${a.schema}.${a.table}`.localeCompare(`${b.agent}/${b.source}/${b.schema}.${b.table}`));
}
