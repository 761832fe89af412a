/**
 * Hub configuration, validated completely at start: every error names the
 * field path and what was expected; secrets may be `{ "env": "NAME" }` and
 * never print.
 */
import { readFileSync } from 'node:fs';
import { parseAlertsConfig, type AlertsConfig } from './alerts/config.js';
import { parseSecurityConfig, WORKSPACE, type SecurityConfig } from './auth/config.js';
import { HubError } from './errors.js';
import { TABLE_PATTERN } from './pipelines/pipeline.js';
import { parseKafkaLogConfig, type KafkaLogConfig } from './log/kafka/config.js';
import { parseDuckDbSinkConfig, type DuckDbSinkConfig } from './sinks/duckdb/config.js';
import { MERGE_OPTION_FIELDS, parseMergeOptions, type MergeOptions } from './sinks/merge/options.js';
import { parseSnowflakeSinkConfig, type SnowflakeSinkConfig } from './sinks/snowflake/config.js';

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

export interface PostgresSinkConfig {
  readonly kind: 'postgres';
  readonly name: string;
  readonly workspace: string;
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password: Secret | null;
  /** Destination schema, created when missing. */
  readonly schema: string;
  readonly merge: MergeOptions;
}

export type SinkConfig = PostgresSinkConfig | DuckDbSinkConfig | SnowflakeSinkConfig;

export interface PipelineConfig {
  readonly name: string;
  /** The workspace owning the pipeline; its agent and sinks must belong to the same one. */
  readonly workspace: string;
  readonly agent: string;
  readonly source: string;
  readonly sinks: readonly string[];
  /** Tables pushed to the agent (`schema.table`, `schema.*`); absent: the agent's own `source.tables`. */
  readonly tables?: readonly string[];
}

export interface HubConfig {
  readonly hubId: string;
  readonly grpc: { readonly listen: string; readonly maxMessageBytes: number };
  readonly http: { readonly listen: string };
  readonly log: { readonly kind: 'embedded'; readonly path: string } | KafkaLogConfig;
  readonly sinks: readonly SinkConfig[];
  readonly pipelines: readonly PipelineConfig[];
  readonly security: SecurityConfig;
  readonly alerts: AlertsConfig;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
}

type Obj = Record<string, unknown>;
export const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const ADDRESS = /^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/;

export class Reader {
  readonly errors: string[] = [];
  constructor(private readonly env: NodeJS.ProcessEnv) {}

  obj(v: unknown, path: string, allowed: readonly string[]): Obj {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      this.errors.push(`${path}: expected an object`);
      return {};
    }
    for (const k of Object.keys(v)) if (!allowed.includes(k)) this.errors.push(`${path}.${k}: unknown field (expected one of ${allowed.join(', ')})`);
    return v as Obj;
  }

  list(v: unknown, path: string): unknown[] {
    if (v === undefined) return [];
    if (!Array.isArray(v)) {
      this.errors.push(`${path}: expected an array`);
      return [];
    }
    return v;
  }

  str(o: Obj, key: string, path: string, pattern?: RegExp, hint?: string, def?: string): string {
    const v = o[key] ?? def;
    if (typeof v !== 'string' || v === '') {
      this.errors.push(`${path}.${key}: expected a non-empty string${v === undefined ? ' (missing)' : ''}`);
      return '';
    }
    if (pattern !== undefined && !pattern.test(v)) this.errors.push(`${path}.${key}: ${JSON.stringify(v)} is not ${hint ?? String(pattern)}`);
    return v;
  }

  int(o: Obj, key: string, path: string, min: number, max: number, def: number): number {
    const v = o[key] ?? def;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.errors.push(`${path}.${key}: expected an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
      return def;
    }
    return v;
  }

  secret(o: Obj, key: string, path: string): Secret | null {
    const v = o[key];
    if (v === undefined || v === null) return null;
    if (typeof v === 'string') return new Secret(v);
    const ref = this.obj(v, `${path}.${key}`, ['env']);
    const name = this.str(ref, 'env', `${path}.${key}`, /^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name');
    const value = this.env[name];
    if (name !== '' && value === undefined) this.errors.push(`${path}.${key}.env: environment variable ${name} is not set`);
    return new Secret(value ?? '');
  }
}

function parseSink(r: Reader, v: unknown, path: string): SinkConfig {
  const peek = v !== null && typeof v === 'object' ? (v as Obj)['kind'] : undefined;
  if (peek === 'duckdb') return parseDuckDbSinkConfig(r, v, path);
  if (peek === 'snowflake') return parseSnowflakeSinkConfig(r, v, path);
  const o = r.obj(v, path, ['kind', 'name', 'workspace', 'host', 'port', 'database', 'user', 'password', 'schema', ...MERGE_OPTION_FIELDS]);
  const kind = r.str(o, 'kind', path);
  if (kind !== '' && kind !== 'postgres') r.errors.push(`${path}.kind: "${kind}" is not supported (expected "postgres", "duckdb" or "snowflake")`);
  return {
    kind: 'postgres',
    name: r.str(o, 'name', path, NAME, 'a name of letters, digits, "_", "-", "."'),
    workspace: r.str(o, 'workspace', path, WORKSPACE, 'a workspace name (a-z, 0-9, "_", "-")', 'default'),
    host: r.str(o, 'host', path, undefined, undefined, '127.0.0.1'),
    port: r.int(o, 'port', path, 1, 65535, 5432),
    database: r.str(o, 'database', path),
    user: r.str(o, 'user', path),
    password: r.secret(o, 'password', path),
    schema: r.str(o, 'schema', path, /^[^\u0000"]{1,63}$/, 'a schema name (max 63 bytes, no double quotes)', 'public'),
    merge: parseMergeOptions(r, o, path),
  };
}

function parsePipeline(r: Reader, v: unknown, path: string, sinkNames: ReadonlySet<string>): PipelineConfig {
  const o = r.obj(v, path, ['name', 'workspace', 'agent', 'source', 'sinks', 'tables']);
  const sinks = r.list(o['sinks'], `${path}.sinks`).map((s, i) => {
    if (typeof s !== 'string' || !sinkNames.has(s)) r.errors.push(`${path}.sinks[${i}]: ${JSON.stringify(s)} is not a configured sink (${[...sinkNames].join(', ') || 'none configured'})`);
    return String(s);
  });
  const tables = o['tables'] === undefined ? undefined : r.list(o['tables'], `${path}.tables`).map((t, i) => {
    if (typeof t !== 'string' || !TABLE_PATTERN.test(t)) r.errors.push(`${path}.tables[${i}]: expected "schema.table" or "schema.*", got ${JSON.stringify(t)}`);
    return String(t);
  });
  return { name: r.str(o, 'name', path, NAME, 'a name'), workspace: r.str(o, 'workspace', path, WORKSPACE, 'a workspace name (a-z, 0-9, "_", "-")', 'default'), agent: r.str(o, 'agent', path, NAME, 'an agent id'), source: r.str(o, 'source', path, NAME, 'a source id'), sinks, ...(tables === undefined ? {} : { tables }) };
}

export function parseHubConfig(json: unknown, env: NodeJS.ProcessEnv = process.env): HubConfig {
  const r = new Reader(env);
  const root = r.obj(json, 'config', ['hubId', 'grpc', 'http', 'log', 'sinks', 'pipelines', 'security', 'alerts', 'logLevel']);
  const grpc = r.obj(root['grpc'] ?? {}, 'grpc', ['listen', 'maxMessageBytes']);
  const http = r.obj(root['http'] ?? {}, 'http', ['listen']);
  const rawKind = (root['log'] as Obj | undefined)?.['kind'];
  const log = rawKind === 'kafka' ? {} : r.obj(root['log'], 'log', ['kind', 'path']);
  const kind = rawKind === 'kafka' ? 'kafka' : r.str(log, 'kind', 'log', undefined, undefined, 'embedded');
  if (kind !== 'embedded' && kind !== 'kafka' && kind !== '') r.errors.push(`log.kind: "${kind}" is not supported (expected "embedded" or "kafka")`);
  const sinks = r.list(root['sinks'], 'sinks').map((s, i) => parseSink(r, s, `sinks[${i}]`));
  const names = new Set<string>();
  sinks.forEach((s, i) => {
    if (names.has(s.name)) r.errors.push(`sinks[${i}].name: "${s.name}" is used twice`);
    names.add(s.name);
  });
  const pipelines = r.list(root['pipelines'], 'pipelines').map((p, i) => parsePipeline(r, p, `pipelines[${i}]`, names));
  // A Kafka log has no local directory: the security state then needs its own `security.path`.
  const logPath = kind === 'kafka' ? '' : r.str(log, 'path', 'log');
  if (kind === 'kafka' && (root['security'] as Obj | undefined)?.['path'] === undefined) r.errors.push('security.path: required when log.kind is "kafka" (the hub keeps its CA and token hashes there)');
  const config: HubConfig = {
    hubId: r.str(root, 'hubId', 'config', NAME, 'a name', 'hub'),
    grpc: { listen: r.str(grpc, 'listen', 'grpc', ADDRESS, 'host:port', '127.0.0.1:7400'), maxMessageBytes: r.int(grpc, 'maxMessageBytes', 'grpc', 1024, 256 << 20, 32 << 20) },
    http: { listen: r.str(http, 'listen', 'http', ADDRESS, 'host:port', '127.0.0.1:7401') },
    log: kind === 'kafka' ? parseKafkaLogConfig(root['log'], 'log', r.errors) : { kind: 'embedded', path: logPath },
    sinks,
    pipelines,
    security: parseSecurityConfig(root['security'], logPath, env, r.errors),
    alerts: parseAlertsConfig(r, root['alerts']),
    logLevel: r.str(root, 'logLevel', 'config', /^(debug|info|warn|error)$/, 'one of debug, info, warn, error', 'info') as HubConfig['logLevel'],
  };
  config.pipelines.forEach((p, i) =>
    p.sinks.forEach((name, j) => {
      const sink = sinks.find((s) => s.name === name);
      // Sink kinds without a workspace field belong to "default".
      const ws = sink === undefined ? p.workspace : 'workspace' in sink ? sink.workspace : 'default';
      if (ws !== p.workspace) r.errors.push(`pipelines[${i}].sinks[${j}]: sink "${name}" belongs to workspace "${ws}", the pipeline to "${p.workspace}"`);
    }),
  );
  if (r.errors.length > 0) throw new HubError('config', `invalid hub configuration:\n  ${r.errors.join('\n  ')}`);
  return config;
}

export function loadHubConfig(file: string, env: NodeJS.ProcessEnv = process.env): HubConfig {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new HubError('config', `cannot read configuration file ${file}: ${(cause as Error).message}`, { cause });
  }
  return parseHubConfig(json, env);
}
