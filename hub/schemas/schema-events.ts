/**
 * Hub events for new schema versions, published by ingest once the batch
 * that introduces a version is durable in the log (so an event never names a
 * version the log could lose). One `schema.changed` per version (the diff in
 * `data`); in addition `schema.incompatible` when a column's type changed in
 * a way no sink can alter in place (the sinks land it in `<column>__<type>`),
 * and `schema.key_changed` when the key columns changed (a re-snapshot of the
 * table is offered).
 */
import type { TableSchema } from '../../proto/gen/tributary/v1/change_pb.js';
import type { NewHubEvent } from '../events/hub-events.js';
import { describeDiff, diffSchemas } from './schema-diff.js';

export function schemaEvents(sourceKey: string, workspace: string, prev: TableSchema | undefined, next: TableSchema): NewHubEvent[] {
  const table = `${next.schema}.${next.table}`;
  const diff = diffSchemas(prev, next);
  const base = { workspace, source: sourceKey, table };
  const at = { version: next.version, previousVersion: prev?.version ?? null, sincePosition: next.sincePosition.toString() };
  const events: NewHubEvent[] = [
    {
      ...base,
      kind: 'schema.changed',
      severity: diff.dropped.length > 0 || diff.typeChanged.length > 0 ? 'warning' : 'info',
      message: prev === undefined ? `new table ${table} (version ${next.version})` : `${table} version ${next.version}: ${describeDiff(diff)}`,
      data: { ...at, newTable: prev === undefined, diff },
    },
  ];
  const incompatible = diff.typeChanged.filter((t) => t.change === 'incompatible');
  if (incompatible.length > 0)
    events.push({
      ...base,
      kind: 'schema.incompatible',
      severity: 'warning',
      message: `${table}: ${incompatible.map((t) => `${t.column} ${t.from} → ${t.to}`).join(', ')} cannot be altered in place; new values land in ${incompatible.map((t) => `${t.column}__<type>`).join(', ')}`,
      data: { ...at, changes: incompatible },
    });
  if (diff.keyChanged !== null)
    events.push({
      ...base,
      kind: 'schema.key_changed',
      severity: 'critical',
      message: `${table}: primary key changed from (${diff.keyChanged.from.join(', ')}) to (${diff.keyChanged.to.join(', ')}); re-snapshot the table so destinations match the new key`,
      data: { ...at, ...diff.keyChanged, resnapshot: { route: 'POST /v1/pipelines/:name/snapshots', body: { table } } },
    });
  return events;
}
