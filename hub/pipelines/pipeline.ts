/**
 * A pipeline routes one agent's source to sinks, optionally narrowing the
 * tables the agent captures. Pipelines come from the hub configuration file
 * (defined there; only paused/resumed through the API) or from the HTTP API,
 * and live in the hub's state store.
 */

export type PipelineState = 'active' | 'paused';

export interface PipelineRecord {
  readonly name: string;
  readonly workspace: string;
  readonly agent: string;
  readonly source: string;
  readonly sinks: readonly string[];
  /**
   * `schema.table` / `schema.*` the agent captures for this pipeline; null:
   * whatever the agent's own configuration says (nothing is pushed).
   */
  readonly tables: readonly string[] | null;
  readonly state: PipelineState;
  readonly origin: 'config' | 'api';
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** PostgreSQL `schema.table` and MySQL `database.table`, or a whole schema/database as `schema.*`. */
export const TABLE_PATTERN = /^[A-Za-z0-9_$]{1,63}\.(\*|[A-Za-z0-9_$]{1,63})$/;
export const PIPELINE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
export const MAX_TABLES = 1000;

export function pipelineKey(workspace: string, name: string): string {
  return `${workspace}/${name}`;
}

export function sourceKeyOfPipeline(p: Pick<PipelineRecord, 'agent' | 'source'>): string {
  return `${p.agent}/${p.source}`;
}

/** True when `schema.table` is named by one of the patterns (exactly, or by its `schema.*`). */
export function tableMatches(patterns: readonly string[], schema: string, table: string): boolean {
  return patterns.some((p) => p === `${schema}.${table}` || p === `${schema}.*`);
}

/** Sorted, without duplicates: the form stored and pushed to agents. */
export function normalizeTables(tables: readonly string[]): string[] {
  return [...new Set(tables)].sort();
}
