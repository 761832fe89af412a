/**
 * The table set the hub pushed, kept beside the spool so that a restarted
 * agent captures the same tables before the hub pushes again: an agent that
 * fell back to its configuration's narrower list would silently drop the
 * changes of tables added through the hub. Written to a temporary file,
 * fsynced, then renamed over the old one: a crash leaves the old or the new
 * set, never half of one.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { AgentError } from '../errors.js';
import { CapturedTables } from './captured-tables.js';

export const TABLES_FILE = 'pipeline-tables.json';

export interface StoredTables {
  readonly tables: readonly string[];
  readonly appliedAt: string;
}

export function loadTables(dir: string): StoredTables | null {
  let text: string;
  try {
    text = readFileSync(join(dir, TABLES_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new AgentError('config', `cannot read ${join(dir, TABLES_FILE)}`, { cause: e });
  }
  try {
    const v = JSON.parse(text) as StoredTables;
    if (!Array.isArray(v.tables) || !v.tables.every((t) => typeof t === 'string')) throw new Error('tables is not a list of names');
    return v;
  } catch (cause) {
    throw new AgentError('config', `${join(dir, TABLES_FILE)} is damaged; delete it to fall back to source.tables until the hub pushes the pipeline again`, { cause });
  }
}

export function saveTables(dir: string, tables: readonly string[]): void {
  const path = join(dir, TABLES_FILE);
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, JSON.stringify({ tables, appliedAt: new Date().toISOString() } satisfies StoredTables));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  // The rename itself is durable once the directory is synced.
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

/** The set to start with: the one the hub pushed last, else the configuration's. */
export function initialTables(dir: string, configTables: readonly string[]): CapturedTables {
  const stored = loadTables(dir);
  return stored === null ? CapturedTables.fromConfig(configTables) : new CapturedTables({ all: false, patterns: stored.tables });
}
