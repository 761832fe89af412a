/** `kind: "snowflake"` sink configuration. */
import { NAME, Secret, type Reader } from '../../config.js';
import { MERGE_OPTION_FIELDS, parseMergeOptions, type MergeOptions } from '../merge/options.js';

export type SnowflakeAuth =
  | { readonly kind: 'password'; readonly password: Secret }
  | { readonly kind: 'key-pair'; readonly privateKey: Secret; readonly passphrase: Secret | null };

export interface SnowflakeSinkConfig {
  readonly kind: 'snowflake';
  readonly name: string;
  /** Account identifier, e.g. `myorg-myaccount`. */
  readonly account: string;
  readonly user: string;
  readonly auth: SnowflakeAuth;
  readonly warehouse: string;
  readonly role: string | null;
  readonly database: string;
  readonly schema: string;
  /** `merge`: tables equal the source. `append`: a raw change table per source table plus a current-state view. */
  readonly mode: 'merge' | 'append';
  /** Overrides the account's URL (private link, or a local Snowflake emulator in tests). */
  readonly accessUrl: string | null;
  /** A statement without a reply for this long fails as sink-unavailable and the session is dropped (the connector itself retries for minutes). */
  readonly requestTimeoutMs: number;
  readonly merge: MergeOptions;
}

const IDENT = /^[^\u0000"]{1,255}$/;

export function parseSnowflakeSinkConfig(r: Reader, v: unknown, path: string): SnowflakeSinkConfig {
  const o = r.obj(v, path, ['kind', 'name', 'account', 'user', 'auth', 'warehouse', 'role', 'database', 'schema', 'mode', 'accessUrl', 'requestTimeoutMs', ...MERGE_OPTION_FIELDS]);
  const a = r.obj(o['auth'], `${path}.auth`, ['kind', 'password', 'privateKey', 'passphrase']);
  const authKind = r.str(a, 'kind', `${path}.auth`, /^(password|key-pair)$/, '"password" or "key-pair"');
  let auth: SnowflakeAuth;
  if (authKind === 'key-pair') {
    const privateKey = r.secret(a, 'privateKey', `${path}.auth`);
    if (privateKey === null) r.errors.push(`${path}.auth.privateKey: required for key-pair auth (a PEM private key)`);
    auth = { kind: 'key-pair', privateKey: privateKey ?? new Secret(''), passphrase: r.secret(a, 'passphrase', `${path}.auth`) };
  } else {
    const password = r.secret(a, 'password', `${path}.auth`);
    if (password === null && authKind === 'password') r.errors.push(`${path}.auth.password: required for password auth`);
    auth = { kind: 'password', password: password ?? new Secret('') };
  }
  const accessUrl = o['accessUrl'] === undefined ? null : r.str(o, 'accessUrl', path, /^https?:\/\/[^\s]+$/, 'an http(s) URL');
  return {
    kind: 'snowflake',
    name: r.str(o, 'name', path, NAME, 'a name of letters, digits, "_", "-", "."'),
    account: r.str(o, 'account', path, /^[A-Za-z0-9._-]{1,255}$/, 'a Snowflake account identifier'),
    user: r.str(o, 'user', path),
    auth,
    warehouse: r.str(o, 'warehouse', path, IDENT, 'a warehouse name'),
    role: o['role'] === undefined ? null : r.str(o, 'role', path, IDENT, 'a role name'),
    database: r.str(o, 'database', path, IDENT, 'a database name'),
    schema: r.str(o, 'schema', path, IDENT, 'a schema name (max 255 characters, no double quotes)', 'PUBLIC'),
    mode: r.str(o, 'mode', path, /^(merge|append)$/, '"merge" or "append"', 'merge') as 'merge' | 'append',
    accessUrl,
    requestTimeoutMs: r.int(o, 'requestTimeoutMs', path, 1000, 3_600_000, 120_000),
    merge: parseMergeOptions(r, o, path),
  };
}
