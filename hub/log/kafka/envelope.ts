/**
 * The Debezium-compatible change envelope (the payload Debezium's PostgreSQL
 * connector writes with JsonConverter and schemas.enable=false), so Kafka
 * Connect sinks, Flink `debezium-json`, ksqlDB and ClickHouse read it as is.
 * Field by field documentation: README, "Kafka".
 */
import type { Value } from '../../../proto/tributary/v1/row-codec.js';
import type { ChangeOp, SinkChange } from '../../sinks/sink.js';
import { jsonValue } from './json-values.js';

export const ENVELOPE_VERSION = 'tributary-1';
/** Header carrying the table's schema version (as decimal text). */
export const SCHEMA_VERSION_HEADER = 'tributary.schema.version';

const OP_CODE: Record<ChangeOp, string> = { insert: 'c', update: 'u', delete: 'd', read: 'r', truncate: 't' };

export interface EnvelopeRecord {
  /** `{"id":1}` of the primary-key columns; null for a truncate (it has no row). */
  readonly key: string | null;
  readonly value: string | null;
  readonly schemaVersion: number;
}

export interface EnvelopeContext {
  /** The logical server name: the topic prefix. */
  readonly name: string;
  /** The source id (Debezium's `db`). */
  readonly db: string;
  /** Hub processing time, microseconds since the epoch. */
  readonly nowUs: bigint;
}

/** Column names as JSON object-key prefixes (`"id":`), computed once per schema version. */
const prefixes = new WeakMap<object, { readonly all: readonly string[]; readonly key: readonly string[] }>();

function names(c: SinkChange): { readonly all: readonly string[]; readonly key: readonly string[] } {
  let p = prefixes.get(c.schema);
  if (p === undefined) {
    p = { all: c.schema.columns.map((col) => `${JSON.stringify(col.name)}:`), key: c.schema.columns.filter((col) => col.key).map((col) => `${JSON.stringify(col.name)}:`) };
    prefixes.set(c.schema, p);
  }
  return p;
}

function rowObject(keys: readonly string[], values: readonly Value[]): string {
  let out = '{';
  for (let i = 0; i < keys.length && i < values.length; i++) out += `${i === 0 ? '' : ','}${keys[i] ?? ''}${jsonValue(values[i] as Value)}`;
  return `${out}}`;
}

/** The key record: the primary-key columns by name, in key order. */
export function envelopeKey(c: SinkChange): string | null {
  if (c.op === 'truncate') return null;
  const keys = names(c).key;
  if (keys.length === 0 || c.key.length === 0) return null;
  return rowObject(keys, c.key);
}

function before(c: SinkChange, all: readonly string[]): string {
  if (c.before !== null) return rowObject(all, c.before);
  // Without REPLICA IDENTITY FULL a delete carries only the key: Debezium then sends the key columns as `before`.
  if (c.op === 'delete' && c.key.length > 0) return rowObject(names(c).key, c.key);
  return 'null';
}

/** The value record of one change. */
export function envelopeValue(c: SinkChange, ctx: EnvelopeContext): string {
  const all = names(c).all;
  const after = c.after === null || c.op === 'delete' ? 'null' : rowObject(all, c.after);
  const commitMs = c.commitTimeUs / 1000n;
  const source =
    `{"version":"${ENVELOPE_VERSION}","connector":"postgresql","name":${JSON.stringify(ctx.name)},` +
    `"ts_ms":${commitMs},"ts_us":${c.commitTimeUs},"snapshot":"${c.op === 'read' ? 'true' : 'false'}",` +
    `"db":${JSON.stringify(ctx.db)},"sequence":${JSON.stringify(JSON.stringify([c.position.commit.toString(), String(c.position.index)]))},` +
    `"schema":${JSON.stringify(c.schema.schema)},"table":${JSON.stringify(c.schema.table)},` +
    `"txId":${c.txid},"lsn":${c.position.commit},"xmin":null}`;
  return (
    `{"before":${before(c, all)},"after":${after},"source":${source},"op":"${OP_CODE[c.op]}",` +
    `"ts_ms":${ctx.nowUs / 1000n},"ts_us":${ctx.nowUs},"transaction":null}`
  );
}

/** The records of one change: the envelope, then a tombstone after a delete when asked for. */
export function envelopeRecords(c: SinkChange, ctx: EnvelopeContext, tombstones: boolean): EnvelopeRecord[] {
  const key = envelopeKey(c);
  const out: EnvelopeRecord[] = [{ key, value: envelopeValue(c, ctx), schemaVersion: c.schema.version }];
  if (tombstones && c.op === 'delete' && key !== null) out.push({ key, value: null, schemaVersion: c.schema.version });
  return out;
}
