/**
 * Agent configuration: read once in main.ts, validated completely before the
 * agent touches any database. Every error names the field path and what was
 * expected. Secrets may be `{ "env": "NAME" }` and are wrapped in Secret so
 * they never reach a log line or JSON.
 */
import { readFileSync } from 'node:fs';
import { parseSpoolKey } from './buffer/encrypted-change-buffer.js';
import { HUB_TLS_FIELDS, parseHubTls, type HubTlsConfig } from './enroll/config.js';
import { AgentError } from './errors.js';
import { parseMySqlSource, type MySqlSourceConfig } from './sources/mysql/config.js';
import { parseSnapshotConfig, type SnapshotConfig } from './snapshot/config.js';

export type { MySqlSourceConfig } from './sources/mysql/config.js';

export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '[secret]';
  }
  toJSON(): string {
    return '[secret]';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return '[secret]';
  }
}

export interface PostgresSourceConfig {
  readonly kind: 'postgres';
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password: Secret | null;
  readonly slot: string;
  readonly publication: string;
  /** `schema.table` names or `schema.*`; empty = every table. */
  readonly tables: readonly string[];
  /** Create the publication when missing (needs table ownership or superuser). */
  readonly createPublication: boolean;
  /** How often a heartbeat is written into the WAL (pg_logical_emit_message) so lag is measured when idle; 0 = off. */
  readonly heartbeatIntervalMs: number;
  /** Incremental snapshots (README, "Snapshots"). */
  readonly snapshot: SnapshotConfig;
}

export type SourceConfig = PostgresSourceConfig | MySqlSourceConfig;

export interface AgentConfig {
  readonly agentId: string;
  readonly hub: { readonly address: string; readonly plaintext: boolean } & HubTlsConfig;
  readonly spool: { readonly path: string; readonly maxBytes: number; readonly batchEvents: number; readonly batchBytes: number; readonly encryptionKey: Secret | null };
  readonly source: SourceConfig;
  /** The continuous doctor: seconds between source checks; 0 = off. */
  readonly doctor: { readonly intervalSeconds: number };
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** An `{ "env": "NAME" }` reference to a variable that is not set (already reported). */
const UNSET = Symbol('unset');

/** Reads typed fields out of parsed JSON, collecting errors with their paths. */
export class FieldReader {
  readonly errors: string[] = [];
  constructor(private readonly env: NodeJS.ProcessEnv) {}

  object(v: Json | undefined, path: string): Record<string, Json> {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v;
    this.errors.push(`${path}: expected an object`);
    return {};
  }

  /**
   * Any string or integer field may be `{ "env": "NAME" }`: the value comes from the
   * environment (a container's `-e NAME=...`) and is then validated as if written inline.
   */
  private resolve(v: Json | undefined, path: string, number: boolean): Json | undefined | typeof UNSET {
    if (v === null || typeof v !== 'object' || Array.isArray(v) || Object.keys(v).join() !== 'env' || typeof v['env'] !== 'string') return v;
    const value = this.env[v['env']];
    if (value === undefined) {
      this.errors.push(`${path}.env: environment variable ${v['env']} is not set`);
      return UNSET;
    }
    return number && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
  }

  string(o: Record<string, Json>, key: string, path: string, opts: { default?: string; pattern?: RegExp; hint?: string } = {}): string {
    const v = this.resolve(o[key], `${path}.${key}`, false);
    if (v === UNSET) return '';
    if (v === undefined && opts.default !== undefined) return opts.default;
    if (typeof v !== 'string' || v === '') {
      this.errors.push(`${path}.${key}: expected a non-empty string${v === undefined ? ' (missing)' : ''}`);
      return '';
    }
    if (opts.pattern && !opts.pattern.test(v)) this.errors.push(`${path}.${key}: ${JSON.stringify(v)} is not ${opts.hint ?? `matching ${opts.pattern}`}`);
    return v;
  }

  int(o: Record<string, Json>, key: string, path: string, min: number, max: number, def?: number): number {
    const v = this.resolve(o[key], `${path}.${key}`, true);
    if (v === UNSET) return min;
    if (v === undefined && def !== undefined) return def;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.errors.push(`${path}.${key}: expected an integer from ${min} to ${max}${v === undefined ? ' (missing)' : `, got ${JSON.stringify(v)}`}`);
      return min;
    }
    return v;
  }

  bool(o: Record<string, Json>, key: string, path: string, def: boolean): boolean {
    const v = o[key];
    if (v === undefined) return def;
    if (typeof v !== 'boolean') {
      this.errors.push(`${path}.${key}: expected true or false`);
      return def;
    }
    return v;
  }

  /** A secret: a literal string or `{ "env": "NAME" }` read from the environment. */
  secret(o: Record<string, Json>, key: string, path: string): Secret | null {
    const v = o[key];
    if (v === undefined || v === null) return null;
    if (typeof v === 'string') return new Secret(v);
    const ref = this.object(v, `${path}.${key}`);
    this.unknownKeys(ref, ['env'], `${path}.${key}`);
    const name = this.string(ref, 'env', `${path}.${key}`, { pattern: /^[A-Za-z_][A-Za-z0-9_]*$/, hint: 'an environment variable name' });
    const value = this.env[name];
    if (name !== '' && value === undefined) this.errors.push(`${path}.${key}.env: environment variable ${name} is not set`);
    return new Secret(value ?? '');
  }

  unknownKeys(o: Record<string, Json>, allowed: readonly string[], path: string): void {
    for (const k of Object.keys(o)) if (!allowed.includes(k)) this.errors.push(`${path}.${k}: unknown field (expected one of ${allowed.join(', ')})`);
  }
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
export const TABLE = /^[A-Za-z_][A-Za-z0-9_$]*\.(\*|[A-Za-z_][A-Za-z0-9_$]*)$/;

function parseSource(r: FieldReader, v: Json | undefined): SourceConfig {
  const o = r.object(v, 'source');
  const kind = r.string(o, 'kind', 'source');
  if (kind === 'mysql') return parseMySqlSource(r, o);
  if (kind !== 'postgres' && kind !== '') r.errors.push(`source.kind: "${kind}" is not supported (expected "postgres" or "mysql")`);
  r.unknownKeys(o, ['kind', 'id', 'host', 'port', 'database', 'user', 'password', 'slot', 'publication', 'tables', 'createPublication', 'heartbeatIntervalMs', 'snapshot'], 'source');
  const tablesRaw = o['tables'] ?? [];
  const tables: string[] = [];
  if (!Array.isArray(tablesRaw)) r.errors.push('source.tables: expected an array of "schema.table" or "schema.*"');
  else
    tablesRaw.forEach((t, i) => {
      if (typeof t !== 'string' || !TABLE.test(t)) r.errors.push(`source.tables[${i}]: expected "schema.table" or "schema.*", got ${JSON.stringify(t)}`);
      else tables.push(t);
    });
  return {
    kind: 'postgres',
    id: r.string(o, 'id', 'source', { pattern: NAME, hint: 'a name of letters, digits, "_", "-", "." (max 63)' }),
    host: r.string(o, 'host', 'source', { default: '127.0.0.1' }),
    port: r.int(o, 'port', 'source', 1, 65535, 5432),
    database: r.string(o, 'database', 'source'),
    user: r.string(o, 'user', 'source'),
    password: r.secret(o, 'password', 'source'),
    slot: r.string(o, 'slot', 'source', { pattern: IDENT, hint: 'a lower-case identifier (a-z, 0-9, _; max 63)' }),
    publication: r.string(o, 'publication', 'source', { pattern: IDENT, hint: 'a lower-case identifier (a-z, 0-9, _; max 63)' }),
    tables,
    createPublication: r.bool(o, 'createPublication', 'source', true),
    heartbeatIntervalMs: heartbeatInterval(r, o),
    snapshot: parseSnapshotConfig(r, o['snapshot'], 'source.snapshot'),
  };
}

/** `source.heartbeatIntervalMs`: 0 (off) or 100 ms to 1 hour; default 10 s. */
export function heartbeatInterval(r: FieldReader, o: Record<string, Json>): number {
  const v = r.int(o, 'heartbeatIntervalMs', 'source', 0, 3_600_000, 10_000);
  if (v > 0 && v < 100) r.errors.push(`source.heartbeatIntervalMs: expected 0 (off) or at least 100, got ${v}`);
  return v;
}

/** Validates parsed JSON; throws AgentError('config') listing every problem. */
export function parseAgentConfig(json: unknown, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const r = new FieldReader(env);
  const root = r.object(json as Json, 'config');
  r.unknownKeys(root, ['agentId', 'hub', 'spool', 'source', 'doctor', 'logLevel'], 'config');
  const doctor = r.object(root['doctor'] ?? {}, 'doctor');
  r.unknownKeys(doctor, ['intervalSeconds'], 'doctor');
  const hub = r.object(root['hub'], 'hub');
  r.unknownKeys(hub, ['address', 'plaintext', ...HUB_TLS_FIELDS], 'hub');
  const plaintext = r.bool(hub, 'plaintext', 'hub', false);
  const spool = r.object(root['spool'], 'spool');
  r.unknownKeys(spool, ['path', 'maxBytes', 'batchEvents', 'batchBytes', 'encryptionKey'], 'spool');
  const spoolKey = r.secret(spool, 'encryptionKey', 'spool');
  if (spoolKey !== null && parseSpoolKey(spoolKey.reveal()) === null) r.errors.push('spool.encryptionKey: expected 64 hexadecimal characters (a 256-bit key, e.g. `openssl rand -hex 32`)');
  const logLevel = r.string(root, 'logLevel', 'config', { default: 'info', pattern: /^(debug|info|warn|error)$/, hint: 'one of debug, info, warn, error' });
  const config: AgentConfig = {
    agentId: r.string(root, 'agentId', 'config', { pattern: NAME, hint: 'a name of letters, digits, "_", "-", "." (max 63)' }),
    hub: {
      address: r.string(hub, 'address', 'hub', { pattern: /^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/, hint: 'host:port' }),
      plaintext,
      ...parseHubTls(r, hub, plaintext),
    },
    spool: {
      path: r.string(spool, 'path', 'spool'),
      maxBytes: r.int(spool, 'maxBytes', 'spool', 1 << 20, Number.MAX_SAFE_INTEGER, 1 << 30),
      batchEvents: r.int(spool, 'batchEvents', 'spool', 1, 100_000, 10_000),
      // At most the hub's default grpc.maxMessageBytes (32 MiB), so a batch of many events always fits it.
      batchBytes: r.int(spool, 'batchBytes', 'spool', 64 << 10, 32 << 20, 4 << 20),
      encryptionKey: spoolKey,
    },
    source: parseSource(r, root['source']),
    doctor: { intervalSeconds: r.int(doctor, 'intervalSeconds', 'doctor', 0, 86_400, 60) },
    logLevel: logLevel as AgentConfig['logLevel'],
  };
  if (r.errors.length > 0) throw new AgentError('config', `invalid agent configuration:\n  ${r.errors.join('\n  ')}`);
  return config;
}

export function loadAgentConfig(file: string, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new AgentError('config', `cannot read configuration file ${file}`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new AgentError('config', `configuration file ${file} is not valid JSON: ${(cause as Error).message}`, { cause });
  }
  return parseAgentConfig(json, env);
}
