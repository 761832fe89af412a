/**
 * The snapshot engine on the control channel: commands `snapshot.start`,
 * `snapshot.pause`, `snapshot.resume`, `snapshot.cancel` (payload
 * `{ table: "schema.table" }`) and `snapshot.list` (no payload), and the
 * `snapshot.progress` events. Every answer is the table's progress.
 */
import { AgentError } from '../errors.js';
import { CommandError, type AgentControl } from '../uplink/control.js';
import type { SnapshotEngine } from './engine.js';
import type { SnapshotProgress } from './snapshot-record.js';

const TABLE = /^[A-Za-z_][A-Za-z0-9_$]*\.[A-Za-z_][A-Za-z0-9_$]*$/;

function tableOf(payload: unknown): string {
  const table = (payload as { table?: unknown } | null)?.table;
  if (typeof table !== 'string' || !TABLE.test(table)) throw new CommandError('BAD_PAYLOAD', 'table: expected "schema.table"');
  return table;
}

/** Runs an engine call, answering its refusals with SNAPSHOT_STATE (not a failure of the agent). */
async function answer(run: () => Promise<SnapshotProgress>): Promise<SnapshotProgress> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof AgentError && e.kind === 'config') throw new CommandError('SNAPSHOT_STATE', e.message);
    throw e;
  }
}

export function registerSnapshotCommands<M>(control: AgentControl, engine: SnapshotEngine<M>): void {
  control.handle('snapshot.start', (p) => answer(() => engine.start(tableOf(p))));
  control.handle('snapshot.pause', (p) => answer(() => engine.pause(tableOf(p))));
  control.handle('snapshot.resume', (p) => answer(() => engine.resume(tableOf(p))));
  control.handle('snapshot.cancel', (p) => answer(() => engine.cancel(tableOf(p))));
  control.handle('snapshot.list', () => Promise.resolve(engine.list()));
}

/** Forwards progress to the hub as `snapshot.progress` events. */
export function progressEmitter(control: AgentControl): (p: SnapshotProgress) => void {
  return (p) => void control.emit('snapshot.progress', p);
}
