/**
 * The values rows stored before a column existed read as: PostgreSQL keeps
 * the constant default of `ALTER TABLE … ADD COLUMN … DEFAULT x` in
 * pg_attribute.attmissingval instead of rewriting the table, so those rows
 * never appear in the log with it. Read from the catalog when a changed
 * table's new Relation message arrives, on an ordinary connection with the
 * replication session's text formats (convert.ts), so the converters read
 * the text exactly as they read pgoutput's.
 *
 * This is a catalog read, not the log: it sees the catalog as it is now. A
 * table rewritten since the DDL (VACUUM FULL, a type change) has no missing
 * values left, and the rows then hold NULL downstream until they change.
 */
import pg from 'pg';
import { REPLICATION_SESSION_SETTINGS } from './convert.js';

const SQL = `SELECT a.attname::text AS name, (a.attmissingval::text::text[])[1] AS value
  FROM pg_attribute a WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped AND a.atthasmissing AND a.attndims = 0`;

/** Column name → missing value as text (NULL defaults are left out: they need nothing). */
export async function missingValues(config: pg.ClientConfig, relationId: number): Promise<Map<string, string>> {
  const client = new pg.Client(config);
  try {
    await client.connect();
    for (const [name, value] of Object.entries(REPLICATION_SESSION_SETTINGS)) await client.query(`SELECT set_config($1, $2, false)`, [name, value]);
    const r = await client.query<{ name: string; value: string | null }>(SQL, [relationId]);
    return new Map(r.rows.flatMap((row) => (row.value === null ? [] : [[row.name, row.value] as [string, string]])));
  } finally {
    await client.end().catch(() => undefined);
  }
}
