/** `kind: "duckdb"` sink configuration. */
import { NAME, type Reader } from '../../config.js';
import { MERGE_OPTION_FIELDS, parseMergeOptions, type MergeOptions } from '../merge/options.js';

export interface DuckDbSinkConfig {
  readonly kind: 'duckdb';
  readonly name: string;
  /** Database file, created when missing. */
  readonly path: string;
  /** Destination schema inside the file, created when missing. */
  readonly schema: string;
  readonly merge: MergeOptions;
}

export function parseDuckDbSinkConfig(r: Reader, v: unknown, path: string): DuckDbSinkConfig {
  const o = r.obj(v, path, ['kind', 'name', 'path', 'schema', ...MERGE_OPTION_FIELDS]);
  return {
    kind: 'duckdb',
    name: r.str(o, 'name', path, NAME, 'a name of letters, digits, "_", "-", "."'),
    path: r.str(o, 'path', path),
    schema: r.str(o, 'schema', path, /^[^\u0000"]{1,255}$/, 'a schema name (max 255 characters, no double quotes)', 'main'),
    merge: parseMergeOptions(r, o, path),
  };
}
