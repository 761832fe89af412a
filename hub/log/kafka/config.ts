/**
 * `log: { "kind": "kafka", ... }` in the hub configuration. Parsed here so the
 * hub's config parser only dispatches on `kind`; every problem is reported
 * with its field path.
 */

export interface KafkaLogConfig {
  readonly kind: 'kafka';
  /** host:port of one or more brokers. */
  readonly brokers: readonly string[];
  /** Prefix of every topic the hub writes, and of its consumer group and transactional ids. */
  readonly topicPrefix: string;
  /** Per-table topic name; placeholders {prefix} {agent} {source} {schema} {table}. */
  readonly tableTopic: string;
  /** A tombstone (key, null value) after each delete, for compacted table topics. */
  readonly tombstones: boolean;
  /** Replication factor for topics the hub creates; -1 = the broker's default. */
  readonly replicationFactor: number;
  /** Partitions of each table topic the hub creates (per-key order holds in any count). */
  readonly tablePartitions: number;
  /** Partitions of the compacted state topic (checkpoints, schemas), fixed at creation. */
  readonly statePartitions: number;
  /** A transaction left open by a crashed hub blocks read_committed readers of its partitions at most this long. */
  readonly transactionTimeoutMs: number;
  readonly clientId: string;
}

export const TABLE_TOPIC_DEFAULT = '{prefix}.{source}.{schema}.{table}';
const PLACEHOLDERS = new Set(['prefix', 'agent', 'source', 'schema', 'table']);
const FIELDS = ['kind', 'brokers', 'topicPrefix', 'tableTopic', 'tombstones', 'replicationFactor', 'tablePartitions', 'statePartitions', 'transactionTimeoutMs', 'clientId'];
const BROKER = /^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/;
/** Kafka's legal topic characters; the prefix is part of every topic name. */
const TOPIC_PART = /^[A-Za-z0-9._-]{1,100}$/;

type Obj = Record<string, unknown>;

function intField(o: Obj, key: string, path: string, min: number, max: number, def: number, errors: string[]): number {
  const v = o[key] ?? def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    errors.push(`${path}.${key}: expected an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
    return def;
  }
  return v;
}

function stringField(o: Obj, key: string, path: string, def: string, pattern: RegExp, hint: string, errors: string[]): string {
  const v = o[key] ?? def;
  if (typeof v !== 'string' || !pattern.test(v)) {
    errors.push(`${path}.${key}: expected ${hint}, got ${JSON.stringify(v)}`);
    return def;
  }
  return v;
}

function parseBrokers(v: unknown, path: string, errors: string[]): string[] {
  const list = typeof v === 'string' ? v.split(',').map((s) => s.trim()) : v;
  if (!Array.isArray(list) || list.length === 0) {
    errors.push(`${path}.brokers: expected a non-empty array of "host:port" (or one comma-separated string)${v === undefined ? ' (missing)' : ''}`);
    return [];
  }
  return list.map((b, i) => {
    if (typeof b !== 'string' || !BROKER.test(b)) errors.push(`${path}.brokers[${i}]: ${JSON.stringify(b)} is not host:port`);
    return String(b);
  });
}

function checkTemplate(t: string, path: string, errors: string[]): void {
  for (const m of t.matchAll(/\{([^}]*)\}/g)) {
    if (!PLACEHOLDERS.has(m[1] ?? '')) errors.push(`${path}.tableTopic: unknown placeholder {${m[1] ?? ''}} (expected ${[...PLACEHOLDERS].map((p) => `{${p}}`).join(' ')})`);
  }
  if (!t.includes('{table}')) errors.push(`${path}.tableTopic: must contain {table}, or every table would share one topic`);
  if (/[^A-Za-z0-9._{}-]/.test(t)) errors.push(`${path}.tableTopic: only letters, digits, ".", "_", "-" and placeholders are allowed`);
}

/** Parses the `log` object of kind "kafka"; problems are appended to `errors` with `path` in front. */
export function parseKafkaLogConfig(v: unknown, path: string, errors: string[]): KafkaLogConfig {
  const o: Obj = v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {};
  for (const k of Object.keys(o)) if (!FIELDS.includes(k)) errors.push(`${path}.${k}: unknown field (expected one of ${FIELDS.join(', ')})`);
  const tableTopic = stringField(o, 'tableTopic', path, TABLE_TOPIC_DEFAULT, /^.{1,200}$/, 'a topic name template', errors);
  checkTemplate(tableTopic, path, errors);
  const tombstones = o['tombstones'] ?? false;
  if (typeof tombstones !== 'boolean') errors.push(`${path}.tombstones: expected true or false, got ${JSON.stringify(tombstones)}`);
  const replicationFactor = intField(o, 'replicationFactor', path, -1, 32, -1, errors);
  if (replicationFactor === 0) errors.push(`${path}.replicationFactor: 0 is not a replication factor (-1 = the broker's default)`);
  return {
    kind: 'kafka',
    brokers: parseBrokers(o['brokers'], path, errors),
    topicPrefix: stringField(o, 'topicPrefix', path, 'tributary', TOPIC_PART, 'letters, digits, ".", "_", "-" (at most 100)', errors),
    tableTopic,
    tombstones: tombstones === true,
    replicationFactor,
    tablePartitions: intField(o, 'tablePartitions', path, 1, 10_000, 1, errors),
    statePartitions: intField(o, 'statePartitions', path, 1, 1_000, 8, errors),
    transactionTimeoutMs: intField(o, 'transactionTimeoutMs', path, 1_000, 900_000, 10_000, errors),
    clientId: stringField(o, 'clientId', path, 'tributary-hub', TOPIC_PART, 'a client id of letters, digits, ".", "_", "-"', errors),
  };
}
