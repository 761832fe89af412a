/**
 * Validation of pipeline bodies: every problem is an ApiError naming the
 * field (`name`, `sinks[1]`, `tables[0]`), checked before anything changes.
 */
import { NAME } from '../config.js';
import { MAX_TABLES, PIPELINE_NAME, TABLE_PATTERN } from '../pipelines/pipeline.js';
import { ApiError, invalid } from './api-error.js';

export function nameField(body: Record<string, unknown>, key: string, pattern: RegExp = NAME): string {
  const v = body[key];
  if (v === undefined) throw invalid(key, 'is required');
  if (typeof v !== 'string' || !pattern.test(v)) throw invalid(key, 'expected 1-63 letters, digits, "_", "-", "." starting with a letter or digit');
  return v;
}

/** `sinks`: names of sinks configured in the caller's workspace. */
export function sinksField(body: Record<string, unknown>, workspaceSinks: ReadonlySet<string>): string[] {
  const v = body['sinks'];
  if (!Array.isArray(v)) throw invalid('sinks', 'expected an array of sink names');
  if (v.length > 100) throw invalid('sinks', 'at most 100 sinks');
  const out: string[] = [];
  v.forEach((s: unknown, i) => {
    if (typeof s !== 'string' || !NAME.test(s)) throw invalid(`sinks[${i}]`, 'expected a sink name');
    if (!workspaceSinks.has(s)) throw new ApiError('UNKNOWN_SINK', `sinks[${i}]: no sink ${JSON.stringify(s)} is configured in this workspace`, `sinks[${i}]`);
    if (out.includes(s)) throw invalid(`sinks[${i}]`, `${JSON.stringify(s)} is named twice`);
    out.push(s);
  });
  return out;
}

/** `tables`: null (the agent's own configuration) or `schema.table` / `schema.*` names. */
export function tablesField(body: Record<string, unknown>): string[] | null {
  const v = body['tables'];
  if (v === null) return null;
  if (!Array.isArray(v)) throw invalid('tables', 'expected an array of "schema.table" or "schema.*", or null');
  if (v.length > MAX_TABLES) throw invalid('tables', `at most ${MAX_TABLES} entries`);
  return v.map((t: unknown, i) => {
    if (typeof t !== 'string' || !TABLE_PATTERN.test(t)) throw invalid(`tables[${i}]`, `expected "schema.table" or "schema.*" (letters, digits, "_", "$"), got ${JSON.stringify(t).slice(0, 80)}`);
    return t;
  });
}

export function pipelineName(raw: string): string {
  if (!PIPELINE_NAME.test(raw)) throw new ApiError('NOT_FOUND', 'no such pipeline');
  return raw;
}
