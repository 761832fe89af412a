/**
 * Doctor checks of a PostgreSQL source, on an ordinary (non-replication)
 * connection: wal_level, the role's REPLICATION attribute, the publication,
 * the replica identity of every captured table, and the slot (existence,
 * wal_status, retained WAL and time left before max_slot_wal_keep_size
 * invalidates it). Reads only catalogs and settings; changes nothing.
 */
import type pg from 'pg';
import type { PostgresSourceConfig } from '../config.js';
import { parseLsn } from '../sources/postgres/position.js';
import { critical, ok, warning, type Finding } from './finding.js';
import { slotFindings, type SlotThresholds, type WalSample } from './postgres-slot.js';

export interface PostgresCheckContext {
  /** The agent is running (it creates the slot at start, so a missing slot is then critical). */
  readonly running: boolean;
  readonly previous: WalSample | null;
  readonly nowMs: number;
  readonly thresholds?: SlotThresholds;
}

export interface PostgresCheckResult {
  readonly findings: Finding[];
  readonly sample: WalSample | null;
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function qualified(schema: string, table: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(table)}`;
}

async function walLevel(client: pg.Client): Promise<Finding> {
  const { rows } = await client.query<{ wal_level: string }>('SHOW wal_level');
  const level = rows[0]?.wal_level ?? 'unknown';
  return level === 'logical'
    ? ok('wal_level', 'wal_level is logical')
    : critical('wal_level', `wal_level is "${level}"; logical replication needs "logical"`, 'ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL');
}

async function role(client: pg.Client, user: string): Promise<Finding> {
  const { rows } = await client.query<{ rolreplication: boolean; rolsuper: boolean }>('SELECT rolreplication, rolsuper FROM pg_roles WHERE rolname = current_user');
  const r = rows[0];
  return r !== undefined && (r.rolreplication || r.rolsuper)
    ? ok('role', `role ${user} may open replication connections`)
    : critical('role', `role ${user} lacks the REPLICATION attribute, so it cannot stream from the slot`, `ALTER ROLE ${quoteIdent(user)} REPLICATION;`);
}

interface PubRow {
  puballtables: boolean;
  pubinsert: boolean;
  pubupdate: boolean;
  pubdelete: boolean;
  pubtruncate: boolean;
}

async function publication(client: pg.Client, config: PostgresSourceConfig): Promise<{ finding: Finding[]; exists: boolean }> {
  const { rows } = await client.query<PubRow>('SELECT puballtables, pubinsert, pubupdate, pubdelete, pubtruncate FROM pg_publication WHERE pubname = $1', [config.publication]);
  const p = rows[0];
  const name = quoteIdent(config.publication);
  if (p === undefined) {
    const target = config.tables.length === 0 ? 'FOR ALL TABLES' : `FOR TABLE ${config.tables.filter((t) => !t.endsWith('.*')).join(', ') || '...'}`;
    return {
      exists: false,
      finding: [config.createPublication
        ? ok('publication', `publication "${config.publication}" does not exist yet; the agent creates it at start (createPublication)`)
        : critical('publication', `publication "${config.publication}" does not exist and source.createPublication is false`, `CREATE PUBLICATION ${name} ${target};`)],
    };
  }
  const out: Finding[] = [];
  const missingOps = (['insert', 'update', 'delete', 'truncate'] as const).filter((op) => !p[`pub${op}`]);
  out.push(
    missingOps.length === 0
      ? ok('publication', `publication "${config.publication}" exists and publishes every operation`)
      : warning('publication', `publication "${config.publication}" does not publish ${missingOps.join(', ')}: those changes never reach the destination`, `ALTER PUBLICATION ${name} SET (publish = 'insert, update, delete, truncate');`),
  );
  if (!p.puballtables) {
    const exact = config.tables.filter((t) => !t.endsWith('.*'));
    if (exact.length > 0) {
      const { rows: have } = await client.query<{ name: string }>("SELECT schemaname || '.' || tablename AS name FROM pg_publication_tables WHERE pubname = $1", [config.publication]);
      const present = new Set(have.map((r) => r.name));
      const missing = exact.filter((t) => !present.has(t));
      if (missing.length > 0)
        out.push(warning('publication.tables', `publication "${config.publication}" lacks configured table(s) ${missing.join(', ')}`, `ALTER PUBLICATION ${name} ADD TABLE ${missing.map((t) => t.split('.').map(quoteIdent).join('.')).join(', ')};`));
    }
  }
  return { finding: out, exists: true };
}

interface IdentRow {
  schema: string;
  table: string;
  ident: string;
  has_pk: boolean;
}

const IDENT_COLUMNS = `n.nspname AS schema, c.relname AS table, c.relreplident::text AS ident,
  EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS has_pk`;

/** Captured tables: the publication's, or (before it exists) the configured names and patterns. */
async function capturedTables(client: pg.Client, config: PostgresSourceConfig, published: boolean): Promise<IdentRow[]> {
  if (published)
    return (
      await client.query<IdentRow>(
        `SELECT ${IDENT_COLUMNS} FROM pg_publication_tables pt JOIN pg_namespace n ON n.nspname = pt.schemaname
         JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename WHERE pt.pubname = $1 ORDER BY 1, 2`,
        [config.publication],
      )
    ).rows;
  const { rows } = await client.query<IdentRow>(
    `SELECT ${IDENT_COLUMNS} FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1, 2`,
  );
  if (config.tables.length === 0) return rows;
  return rows.filter((r) => config.tables.some((t) => t === `${r.schema}.${r.table}` || t === `${r.schema}.*`));
}

function identity(r: IdentRow): Finding | null {
  const name = qualified(r.schema, r.table);
  const check = `replica_identity.${r.schema}.${r.table}`;
  if (r.ident === 'n' || (r.ident === 'd' && !r.has_pk))
    return critical(
      check,
      `table ${r.schema}.${r.table} has no replica identity (${r.ident === 'n' ? 'REPLICA IDENTITY NOTHING' : 'no primary key'}): PostgreSQL refuses UPDATE and DELETE on it while it is published, and the destination cannot apply changes by key`,
      `ALTER TABLE ${name} ADD PRIMARY KEY (...); or ALTER TABLE ${name} REPLICA IDENTITY FULL;`,
    );
  if (r.ident === 'f' && !r.has_pk)
    return warning(check, `table ${r.schema}.${r.table} has REPLICA IDENTITY FULL but no primary key: the destination has no key to apply updates and deletes by`, `ALTER TABLE ${name} ADD PRIMARY KEY (...);`);
  return null;
}

interface SlotQueryRow {
  plugin: string;
  database: string;
  active: boolean;
  wal_status: string | null;
  safe_wal_size: string | null;
  retained: string | null;
  current: string;
}

async function slot(client: pg.Client, config: PostgresSourceConfig, ctx: PostgresCheckContext): Promise<PostgresCheckResult> {
  const { rows } = await client.query<SlotQueryRow>(
    `SELECT plugin, database, active, wal_status, safe_wal_size::text,
            pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::text AS retained, pg_current_wal_lsn()::text AS current
     FROM pg_replication_slots WHERE slot_name = $1`,
    [config.slot],
  );
  const r = rows[0];
  if (r === undefined) {
    const f = ctx.running
      ? critical('slot', `replication slot "${config.slot}" does not exist although the agent is running: it was dropped, and changes since are lost to this agent`, 'restart the agent (it creates the slot) and re-snapshot the tables')
      : ok('slot', `replication slot "${config.slot}" does not exist yet; the agent creates it at start (an agent that ran before lost the changes in between: re-snapshot)`);
    return { findings: [f], sample: null };
  }
  if (r.plugin !== 'pgoutput' || r.database !== config.database)
    return {
      findings: [critical('slot', `replication slot "${config.slot}" uses plugin ${r.plugin} on database ${r.database}, not pgoutput on ${config.database}`, `choose another source.slot, or SELECT pg_drop_replication_slot('${config.slot}');`)],
      sample: null,
    };
  const { rows: keep } = await client.query<{ setting: string }>("SELECT setting FROM pg_settings WHERE name = 'max_slot_wal_keep_size'");
  // pg_settings reports it in MB; -1 = unlimited.
  const keepMb = Number(keep[0]?.setting ?? -1);
  const keepBytes = keepMb < 0 ? -1 : keepMb * (1 << 20);
  const row = {
    active: r.active,
    walStatus: r.wal_status,
    safeWalSize: r.safe_wal_size === null ? null : Number(r.safe_wal_size),
    retainedBytes: r.retained === null ? 0 : Number(r.retained),
    currentLsn: parseLsn(r.current),
  };
  const activity = r.active ? ok('slot', `replication slot "${config.slot}" exists and is active`) : ctx.running
    ? warning('slot', `replication slot "${config.slot}" is not active: the agent is not streaming from it right now`, 'check the agent log for its source errors')
    : ok('slot', `replication slot "${config.slot}" exists (inactive: no agent streams from it now)`);
  return {
    findings: [activity, ...slotFindings(config.slot, row, keepBytes, ctx.previous, ctx.nowMs, ctx.thresholds)],
    sample: { atMs: ctx.nowMs, currentLsn: row.currentLsn, retainedBytes: row.retainedBytes },
  };
}

/** Every PostgreSQL check on the caller's connected client. */
export async function checkPostgres(client: pg.Client, config: PostgresSourceConfig, ctx: PostgresCheckContext): Promise<PostgresCheckResult> {
  const findings: Finding[] = [await walLevel(client), await role(client, config.user)];
  const pub = await publication(client, config);
  findings.push(...pub.finding);
  const tables = await capturedTables(client, config, pub.exists);
  const bad = tables.map(identity).filter((f): f is Finding => f !== null);
  findings.push(...bad);
  if (bad.length === 0) findings.push(ok('replica_identity', `${tables.length} captured table(s), each with a primary key or replica identity`));
  const s = await slot(client, config, ctx);
  findings.push(...s.findings);
  return { findings, sample: s.sample };
}

/** The server's current WAL position and the slot's retained WAL, for a rate baseline. */
export async function walSample(client: pg.Client, slotName: string, nowMs: number): Promise<WalSample | null> {
  const { rows } = await client.query<{ current: string; retained: string | null }>(
    `SELECT pg_current_wal_lsn()::text AS current,
            (SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::text FROM pg_replication_slots WHERE slot_name = $1) AS retained`,
    [slotName],
  );
  const r = rows[0];
  if (r === undefined) return null;
  return { atMs: nowMs, currentLsn: parseLsn(r.current), retainedBytes: r.retained === null ? 0 : Number(r.retained) };
}
