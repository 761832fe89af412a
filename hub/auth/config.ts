/**
 * The hub configuration's `security` section:
 *
 *   "security": {
 *     "path": "/var/lib/tributary/hub-security",   state store and generated CA (default: <log.path>-security)
 *     "plaintext": false,                          development only: no TLS, agents identified by their Hello
 *     "serverNames": ["hub.example.com"],          names in the server certificate (plus localhost, 127.0.0.1, ::1, host name)
 *     "ca": { "cert": "/etc/tributary/ca.pem", "key": "/etc/tributary/ca.key" },   a supplied CA (optional)
 *     "certificateTtlSeconds": 2592000,            agent certificate lifetime (agents renew at two thirds)
 *     "enrollmentTokenTtlSeconds": 3600,
 *     "adminTokens": [{ "workspace": "default", "token": { "env": "TRIBUTARY_ADMIN_TOKEN" } }]
 *   }
 */
import type { BootstrapToken } from './api-tokens.js';
import type { SuppliedCa } from './ca.js';
import { hashSecret } from './tokens.js';

export interface SecurityConfig {
  readonly path: string;
  readonly plaintext: boolean;
  readonly serverNames: readonly string[];
  readonly ca: SuppliedCa | null;
  readonly certificateTtlSeconds: number;
  readonly enrollmentTokenTtlSeconds: number;
  readonly adminTokens: readonly BootstrapToken[];
}

type Obj = Record<string, unknown>;
export const WORKSPACE = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const HOST = /^[A-Za-z0-9.:-]{1,253}$/;

function obj(v: unknown, path: string, allowed: readonly string[], errors: string[]): Obj {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    errors.push(`${path}: expected an object`);
    return {};
  }
  for (const k of Object.keys(v)) if (!allowed.includes(k)) errors.push(`${path}.${k}: unknown field (expected one of ${allowed.join(', ')})`);
  return v as Obj;
}

function str(o: Obj, key: string, path: string, errors: string[], def?: string): string {
  const v = o[key] ?? def;
  if (typeof v !== 'string' || v === '') {
    errors.push(`${path}.${key}: expected a non-empty string${v === undefined ? ' (missing)' : ''}`);
    return '';
  }
  return v;
}

function int(o: Obj, key: string, path: string, errors: string[], min: number, max: number, def: number): number {
  const v = o[key] ?? def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    errors.push(`${path}.${key}: expected an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
    return def;
  }
  return v;
}

function secretValue(v: unknown, path: string, env: NodeJS.ProcessEnv, errors: string[]): string {
  if (typeof v === 'string') return v;
  const ref = obj(v, path, ['env'], errors);
  const name = str(ref, 'env', path, errors);
  const value = name === '' ? undefined : env[name];
  if (name !== '' && value === undefined) errors.push(`${path}.env: environment variable ${name} is not set`);
  return value ?? '';
}

/** Parses `security` (absent = all defaults); pushes every problem onto `errors` with its field path. */
export function parseSecurityConfig(v: unknown, logPath: string, env: NodeJS.ProcessEnv, errors: string[]): SecurityConfig {
  const o = obj(v ?? {}, 'security', ['path', 'plaintext', 'serverNames', 'ca', 'certificateTtlSeconds', 'enrollmentTokenTtlSeconds', 'adminTokens'], errors);
  const plaintext = o['plaintext'] ?? false;
  if (typeof plaintext !== 'boolean') errors.push('security.plaintext: expected true or false');
  const names = o['serverNames'] ?? [];
  const serverNames: string[] = [];
  if (!Array.isArray(names)) errors.push('security.serverNames: expected an array of host names or IP addresses');
  else names.forEach((n, i) => (typeof n === 'string' && HOST.test(n) ? serverNames.push(n) : errors.push(`security.serverNames[${i}]: ${JSON.stringify(n)} is not a host name or IP address`)));
  let ca: SuppliedCa | null = null;
  if (o['ca'] !== undefined) {
    const c = obj(o['ca'], 'security.ca', ['cert', 'key'], errors);
    ca = { certFile: str(c, 'cert', 'security.ca', errors), keyFile: str(c, 'key', 'security.ca', errors) };
  }
  const tokens = o['adminTokens'] ?? [];
  const adminTokens: BootstrapToken[] = [];
  if (!Array.isArray(tokens)) errors.push('security.adminTokens: expected an array of { workspace, token }');
  else
    tokens.forEach((t, i) => {
      const p = `security.adminTokens[${i}]`;
      const e = obj(t, p, ['workspace', 'token'], errors);
      const workspace = str(e, 'workspace', p, errors, 'default');
      if (workspace !== '' && !WORKSPACE.test(workspace)) errors.push(`${p}.workspace: ${JSON.stringify(workspace)} is not a workspace name (a-z, 0-9, "_", "-"; max 63)`);
      const secret = secretValue(e['token'], `${p}.token`, env, errors);
      if (secret.length < 32) errors.push(`${p}.token: must be at least 32 characters (use e.g. \`openssl rand -hex 32\`)`);
      adminTokens.push({ workspace, hash: hashSecret(secret) });
    });
  return {
    path: str(o, 'path', 'security', errors, `${logPath}-security`),
    plaintext: plaintext === true,
    serverNames,
    ca,
    certificateTtlSeconds: int(o, 'certificateTtlSeconds', 'security', errors, 10, 10 * 365 * 86_400, 30 * 86_400),
    enrollmentTokenTtlSeconds: int(o, 'enrollmentTokenTtlSeconds', 'security', errors, 1, 30 * 86_400, 3600),
    adminTokens,
  };
}
