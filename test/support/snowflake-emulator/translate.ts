/**
 * Snowflake SQL -> DuckDB SQL, for the statement shapes Tributary's Snowflake
 * sink emits (and the few a test sends to read results back). This is an
 * emulator's shortcut, not a Snowflake parser: a statement outside these
 * shapes is run on DuckDB as it is, and DuckDB's error is returned.
 */

/** Snowflake column types -> DuckDB types. */
const TYPES: [RegExp, string][] = [
  [/\bNUMBER\((\d+),\s*(\d+)\)/gi, 'DECIMAL($1,$2)'],
  [/\bTIMESTAMP_NTZ(\(\d\))?/gi, 'TIMESTAMP'],
  [/\bTIMESTAMP_TZ(\(\d\))?/gi, 'TIMESTAMPTZ'],
  [/\bTIMESTAMP_LTZ(\(\d\))?/gi, 'TIMESTAMPTZ'],
  [/\bTIME\((\d)\)/gi, 'TIME'],
  [/\bVARIANT\b/gi, 'JSON'],
  [/\bARRAY\b(?!\s*\()/gi, 'JSON'],
  [/\bBINARY\b/gi, 'BLOB'],
  [/\bFLOAT\b/gi, 'DOUBLE'],
];

export interface Translated {
  readonly sql: string;
}

/** `$1[i]` (VARIANT element of a staged JSON line) -> DuckDB json extraction; `::VARCHAR` after it takes the string form. */
function stagedColumns(select: string): string {
  return select
    .replace(/TO_BINARY\(\$1\[(\d+)\]::VARCHAR, 'HEX'\)/gi, "unhex(json_extract_string(json, '$$[$1]'))")
    .replace(/\$1\[(\d+)\]::VARCHAR/g, "json_extract_string(json, '$$[$1]')")
    .replace(/\$1\[(\d+)\]/g, "json_extract(json, '$$[$1]')");
}

export function translate(sql: string, stageDir: (stage: string) => string): Translated {
  let s = sql.trim();
  // COPY INTO t (cols) FROM (SELECT ... FROM @stage/path) FILE_FORMAT = (TYPE = JSON) ...
  const copy = /^COPY INTO (.+?) FROM \(SELECT (.+) FROM @("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)\/([A-Za-z0-9_./-]+)\)\s+FILE_FORMAT\s*=\s*\(TYPE\s*=\s*JSON\)/is.exec(s);
  if (copy !== null) {
    const [, target, select, stage, path] = copy as unknown as [string, string, string, string, string];
    const file = `${stageDir(unquote(stage))}/${path}`.replace(/'/g, "''");
    s = `INSERT INTO ${target} SELECT ${stagedColumns(select)} FROM read_json_objects('${file}', format = 'newline_delimited')`;
  }
  return { sql: mapCode(s, (code) => {
    let c = code.replace(/\bPARSE_JSON\(/gi, 'json(').replace(/\bCURRENT_TIMESTAMP\(\)/gi, 'now()');
    c = c.replace(/^USE SCHEMA /i, 'USE ').replace(/^CREATE TEMPORARY TABLE/i, 'CREATE OR REPLACE TEMP TABLE').replace(/^CREATE TRANSIENT TABLE/i, 'CREATE TABLE');
    for (const [re, to] of TYPES) c = c.replace(re, to);
    return c;
  }) };
}

/**
 * Applies `fn` to the SQL outside quoted identifiers and string literals, so
 * a column named "FLOAT" stays a name. Snowflake string literals take
 * backslash escapes; they are rewritten as DuckDB literals (quote doubling).
 */
function mapCode(sql: string, fn: (code: string) => string): string {
  let out = '';
  let code = '';
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i] as string;
    if (ch === '"') {
      let j = i + 1;
      while (j < sql.length && !(sql[j] === '"' && sql[j + 1] !== '"')) j += sql[j] === '"' ? 2 : 1;
      out += fn(code) + sql.slice(i, j + 1);
      code = '';
      i = j + 1;
    } else if (ch === "'") {
      let j = i + 1;
      let text = '';
      while (j < sql.length) {
        const c = sql[j] as string;
        if (c === '\\') {
          const n = sql[j + 1] ?? '';
          text += n === 'n' ? '\n' : n === 't' ? '\t' : n === '0' ? '\0' : n;
          j += 2;
        } else if (c === "'" && sql[j + 1] === "'") {
          text += "'";
          j += 2;
        } else if (c === "'") break;
        else {
          text += c;
          j++;
        }
      }
      out += fn(code) + `'${text.replace(/'/g, "''")}'`;
      code = '';
      i = j + 1;
    } else {
      code += ch;
      i++;
    }
  }
  return out + fn(code);
}

export function unquote(name: string): string {
  return name.startsWith('"') ? name.slice(1, -1).replace(/""/g, '"') : name.toUpperCase();
}
