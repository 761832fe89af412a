/**
 * The agent's side of `pipeline.apply { tables }`: the hub names the tables
 * this source should capture (`schema.table` or `schema.*`); the source
 * applies them while it runs — no restart — and the set is kept beside the
 * spool for the next start. The answer (`command.result`) says how it was
 * applied: `publication` (the agent manages the publication and changed its
 * membership) or `filter` (changes of other tables are dropped by the agent),
 * and which patterns it newly includes (`added`: the hub asks for their
 * initial snapshot).
 * Commands are applied one at a time, in arrival order.
 */
import { AgentError } from '../errors.js';
import type { Logger } from '../log.js';
import { CommandError, type AgentControl } from '../uplink/control.js';
import type { CapturedTables } from './captured-tables.js';
import { saveTables } from './tables-file.js';

export const PIPELINE_APPLY = 'pipeline.apply';
const MAX_TABLES = 1000;

/** A source whose captured tables can change at run time. */
export interface TableControlledSource {
  readonly tables: CapturedTables;
  /** Applies the set at the source and in its filter; resolves once changes of the new set are captured. */
  applyTables(patterns: readonly string[]): Promise<{ readonly mode: 'publication' | 'filter' } & Record<string, unknown>>;
}

export interface PipelineApplyOptions {
  readonly control: AgentControl;
  readonly source: TableControlledSource;
  /** Where the applied set is kept (the spool directory). */
  readonly dir: string;
  /** The names this source kind accepts. */
  readonly pattern: RegExp;
  readonly log: Logger;
}

export function parseTables(payload: unknown, pattern: RegExp): string[] {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) throw new CommandError('BAD_PAYLOAD', 'expected { "tables": [...] }');
  const extra = Object.keys(payload).filter((k) => k !== 'tables');
  if (extra.length > 0) throw new CommandError('BAD_PAYLOAD', `unknown field ${JSON.stringify(extra[0])}`);
  const tables = (payload as { tables?: unknown }).tables;
  if (!Array.isArray(tables)) throw new CommandError('BAD_PAYLOAD', 'tables: expected an array of "schema.table" or "schema.*"');
  if (tables.length > MAX_TABLES) throw new CommandError('BAD_PAYLOAD', `tables: at most ${MAX_TABLES} entries`);
  return tables.map((t: unknown, i) => {
    if (typeof t !== 'string' || !pattern.test(t)) throw new CommandError('BAD_PAYLOAD', `tables[${i}]: expected "schema.table" or "schema.*", got ${JSON.stringify(t).slice(0, 80)}`);
    return t;
  });
}

export function registerPipelineApply(o: PipelineApplyOptions): void {
  let queue: Promise<unknown> = Promise.resolve();
  o.control.handle(PIPELINE_APPLY, (payload) => {
    const tables = [...new Set(parseTables(payload, o.pattern))].sort();
    const run = queue.then(async () => {
      const added = o.source.tables.added(tables);
      let how: Awaited<ReturnType<TableControlledSource['applyTables']>>;
      try {
        how = await o.source.applyTables(tables);
      } catch (e) {
        // The source's own classification becomes the answer's code (SOURCE_MISCONFIGURED, SOURCE_PERMISSION, ...).
        if (e instanceof AgentError) throw new CommandError(e.kind.toUpperCase().replaceAll('-', '_'), e.message);
        throw e;
      }
      saveTables(o.dir, tables);
      o.log.info('pipeline tables applied', { tables, mode: how.mode, added });
      return { ...how, tables, added };
    });
    queue = run.catch(() => undefined);
    return run;
  });
}
