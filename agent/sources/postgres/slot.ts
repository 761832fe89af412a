/**
 * Publication and slot: created when missing, reused when present, checked
 * before streaming so a misconfigured server fails with the statement that
 * fixes it instead of a replication error later.
 */
import pg from 'pg';
import { AgentError } from '../../errors.js';
import type { PostgresSourceConfig } from '../../config.js';
import { classify } from './stream.js';
import { parseLsn } from './position.js';

export interface SlotInfo {
  /** The slot's confirmed_flush_lsn: where streaming resumes when the spool is empty. */
  readonly confirmedFlush: bigint;
  readonly created: boolean;
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function tableList(tables: readonly string[]): string {
  return tables.map((t) => t.split('.').map(quoteIdent).join('.')).join(', ');
}

/** Publication clause: exact tables, or every table of a schema (PostgreSQL 15+: TABLES IN SCHEMA). */
function publicationTarget(tables: readonly string[]): string {
  if (tables.length === 0) return 'FOR ALL TABLES';
  const schemas = tables.filter((t) => t.endsWith('.*')).map((t) => quoteIdent(t.slice(0, -2)));
  const exact = tables.filter((t) => !t.endsWith('.*'));
  const parts: string[] = [];
  if (exact.length > 0) parts.push(`TABLE ${tableList(exact)}`);
  if (schemas.length > 0) parts.push(`TABLES IN SCHEMA ${schemas.join(', ')}`);
  return `FOR ${parts.join(', ')}`;
}

export async function checkServer(client: pg.Client): Promise<void> {
  const { rows } = await client.query<{ wal_level: string }>('SHOW wal_level');
  const level = rows[0]?.wal_level;
  if (level !== 'logical')
    throw new AgentError(
      'source-misconfigured',
      `wal_level is "${level ?? 'unknown'}", logical replication needs "logical": run ALTER SYSTEM SET wal_level = logical; and restart PostgreSQL`,
    );
}

/** Checks the server and ensures publication and slot, on the caller's connected client. */
export async function ensurePublicationAndSlot(config: PostgresSourceConfig, client: pg.Client): Promise<SlotInfo> {
  try {
    await checkServer(client);
    const pub = await client.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [config.publication]);
    if (pub.rowCount === 0) {
      if (!config.createPublication)
        throw new AgentError(
          'source-misconfigured',
          `publication "${config.publication}" does not exist: run CREATE PUBLICATION ${quoteIdent(config.publication)} ${publicationTarget(config.tables)};`,
        );
      await client.query(`CREATE PUBLICATION ${quoteIdent(config.publication)} ${publicationTarget(config.tables)}`);
    }
    const slot = await client.query<{ plugin: string; confirmed_flush_lsn: string | null; database: string }>(
      'SELECT plugin, confirmed_flush_lsn::text, database FROM pg_replication_slots WHERE slot_name = $1',
      [config.slot],
    );
    const row = slot.rows[0];
    if (row !== undefined) {
      if (row.plugin !== 'pgoutput' || row.database !== config.database)
        throw new AgentError(
          'source-misconfigured',
          `replication slot "${config.slot}" exists but uses plugin ${row.plugin} on database ${row.database}; choose another slot name or drop it with SELECT pg_drop_replication_slot('${config.slot}');`,
        );
      return { confirmedFlush: row.confirmed_flush_lsn === null ? 0n : parseLsn(row.confirmed_flush_lsn), created: false };
    }
    const created = await client.query<{ lsn: string }>("SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')", [config.slot]);
    return { confirmedFlush: parseLsn(created.rows[0]?.lsn ?? '0/0'), created: true };
  } catch (cause) {
    throw classify(cause);
  }
}

/**
 * Sets the publication's tables to `tables` (ALTER PUBLICATION ... SET, one
 * statement, so the change is atomic in the WAL: pgoutput decodes each
 * transaction with the membership of its commit). Only for a publication the
 * agent manages (`createPublication`) that names tables; returns false and
 * changes nothing for a FOR ALL TABLES publication, an unmanaged one, or an
 * empty list (the agent filters then).
 */
export async function setPublicationTables(config: PostgresSourceConfig, client: pg.Client, tables: readonly string[]): Promise<boolean> {
  if (!config.createPublication || tables.length === 0) return false;
  try {
    const pub = await client.query<{ puballtables: boolean }>('SELECT puballtables FROM pg_publication WHERE pubname = $1', [config.publication]);
    const row = pub.rows[0];
    if (row === undefined || row.puballtables) return false;
    await client.query(`ALTER PUBLICATION ${quoteIdent(config.publication)} SET ${publicationTarget(tables).slice('FOR '.length)}`);
    return true;
  } catch (cause) {
    throw classify(cause);
  }
}
