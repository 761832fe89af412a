/**
 * A Snowflake EMULATOR for tests: a local HTTP server that speaks the part of
 * Snowflake's REST protocol the `snowflake-sdk` connector uses (login, query,
 * PUT to a stage, session close), reached through the connector's
 * `accessUrl`. Statements run on DuckDB after translate.ts rewrites
 * Snowflake-only syntax. It is NOT Snowflake: see README.md for what it
 * checks and what only a live account can.
 */
import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { createPublicKey, randomUUID, verify } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { translate, unquote } from './translate.js';

export interface EmulatorOptions {
  readonly dir: string;
  readonly user: string;
  /** Password auth accepted when set. */
  readonly password?: string;
  /** PEM public key: key-pair (JWT) auth accepted when set. */
  readonly publicKey?: string;
}

export interface SnowflakeEmulator {
  readonly accessUrl: string;
  readonly port: number;
  /** Every statement text received, in order. */
  readonly statements: string[];
  /** A direct DuckDB connection to the emulated account, for checks. */
  query(sql: string): Promise<unknown[][]>;
  /** Stops answering (connections refused), keeping the data; `start` resumes on the same port. */
  pause(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

interface Session {
  readonly conn: DuckDBConnection;
  /** Inside BEGIN … COMMIT/ROLLBACK. */
  inTransaction: boolean;
  busy: number;
  lastActive: number;
}

/**
 * A client killed inside a transaction leaves it detached, holding its row
 * changes; Snowflake rolls such a transaction back when the session expires
 * (hours later). The emulator does the same after this much idle time inside
 * a transaction, so crash tests need not wait hours; a live client never
 * idles that long between BEGIN and COMMIT.
 */
const DETACHED_TRANSACTION_MS = 10_000;

type Json = Record<string, unknown>;

export async function startSnowflakeEmulator(o: EmulatorOptions): Promise<SnowflakeEmulator> {
  mkdirSync(join(o.dir, 'stages'), { recursive: true });
  const instance = await DuckDBInstance.create(join(o.dir, 'emulated-account.duckdb'));
  const checker = await instance.connect();
  const sessions = new Map<string, Session>();
  const statements: string[] = [];
  const stageDir = (stage: string) => join(o.dir, 'stages', encodeURIComponent(stage));
  let server: Server | null = null;
  let port = 0;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    if (process.env["EMU_TRACE"]) process.stderr.write(`${new Date().toISOString()} ${req.method} ${req.url}\n`);
    const body = await readBody(req);
    if (url.pathname === '/session/v1/login-request') return send(res, await login(body));
    const token = /Snowflake Token="([^"]+)"/.exec(req.headers.authorization ?? '')?.[1];
    const session = token === undefined ? undefined : sessions.get(token);
    if (url.pathname === '/session' && url.searchParams.get('delete') === 'true') {
      if (token !== undefined && session !== undefined) {
        sessions.delete(token);
        session.conn.closeSync();
      }
      return send(res, { success: true, data: null, code: null, message: null });
    }
    if (session === undefined) return send(res, { success: false, code: '390104', message: 'session not found (emulator)', data: { errorCode: '390104' } });
    if (url.pathname === '/queries/v1/query-request') return send(res, await query(session, body));
    if (url.pathname.startsWith('/telemetry') || url.pathname.startsWith('/session/heartbeat')) return send(res, { success: true, data: null });
    return send(res, { success: false, code: '000404', message: `emulator: no route ${url.pathname}`, data: null });
  }

  async function login(body: Json): Promise<Json> {
    const data = (body['data'] ?? {}) as Json;
    const user = String(data['LOGIN_NAME'] ?? '');
    const ok =
      user.toUpperCase() === o.user.toUpperCase() &&
      ((o.password !== undefined && data['PASSWORD'] === o.password) ||
        (o.publicKey !== undefined && data['AUTHENTICATOR'] === 'SNOWFLAKE_JWT' && jwtValid(String(data['TOKEN'] ?? ''), o.publicKey)));
    if (!ok) return { success: false, code: '390100', message: 'Incorrect username or password was specified. (emulator)', data: { errorCode: '390100' } };
    const token = randomUUID();
    sessions.set(token, { conn: await instance.connect(), inTransaction: false, busy: 0, lastActive: Date.now() });
    return {
      success: true,
      code: null,
      message: null,
      data: {
        token,
        masterToken: randomUUID(),
        validityInSeconds: 3600,
        masterValidityInSeconds: 14400,
        sessionId: Math.floor(Math.random() * 1e9),
        parameters: [],
        sessionInfo: { databaseName: 'EMULATED', schemaName: 'PUBLIC', warehouseName: 'EMULATED', roleName: 'EMULATED' },
      },
    };
  }

  async function query(session: Session, body: Json): Promise<Json> {
    session.busy++;
    try {
      return await runQuery(session, body);
    } finally {
      session.busy--;
      session.lastActive = Date.now();
    }
  }

  /** Rolls back and ends sessions whose transaction was left detached (see DETACHED_TRANSACTION_MS). */
  const reaper = setInterval(() => {
    for (const [token, s] of sessions) {
      if (!s.inTransaction || s.busy > 0 || Date.now() - s.lastActive < DETACHED_TRANSACTION_MS) continue;
      sessions.delete(token);
      void s.conn.run('ROLLBACK').catch(() => undefined).finally(() => s.conn.closeSync());
    }
  }, 1000);
  reaper.unref();

  async function runQuery(session: Session, body: Json): Promise<Json> {
    const sqlText = String(body['sqlText'] ?? '');
    if (/^\s*(BEGIN|START\s+TRANSACTION)\b/i.test(sqlText)) session.inTransaction = true;
    else if (/^\s*(COMMIT|ROLLBACK)\b/i.test(sqlText)) session.inTransaction = false;
    statements.push(sqlText);
    const queryId = randomUUID();
    try {
      const put = /^PUT\s+'file:\/\/([^']+)'\s+@("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)(\/[A-Za-z0-9_./-]*)?/i.exec(sqlText);
      if (put !== null) return putResponse(queryId, put[1] as string, join(stageDir(unquote(put[2] as string)), put[3] ?? ''));
      const stage = /^CREATE STAGE IF NOT EXISTS ("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)/i.exec(sqlText);
      if (stage !== null) {
        mkdirSync(stageDir(unquote(stage[1] as string)), { recursive: true });
        return rows(queryId, ['status'], [['Stage area created.']]);
      }
      const remove = /^REMOVE\s+@("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)\/([A-Za-z0-9_./-]+)/i.exec(sqlText);
      if (remove !== null) {
        rmSync(join(stageDir(unquote(remove[1] as string)), remove[2] as string), { recursive: true, force: true });
        return rows(queryId, ['name', 'result'], []);
      }
      const { sql } = translate(sqlText, stageDir);
      const params = bindings(body['bindings']);
      const result = params.length > 0 ? await session.conn.runAndReadAll(sql, params) : await session.conn.runAndReadAll(sql);
      const names = result.columnNames();
      const out = result.getRows().map((r) => r.map((v) => (v === null ? null : textOf(v))));
      return rows(queryId, names, out);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      return { success: false, code: snowflakeCode(message), message: `${message} (emulator, DuckDB)`, data: { queryId, sqlState: sqlState(message), errorCode: snowflakeCode(message) } };
    }
  }

  const emulator: SnowflakeEmulator = {
    get accessUrl() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    statements,
    async query(sql) {
      return (await checker.runAndReadAll(sql)).getRowsJson() as unknown[][];
    },
    async start() {
      const s = createServer((req, res) => {
        handle(req, res).catch((err: unknown) => {
          res.statusCode = 500;
          res.end(String(err));
        });
      });
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(port, '127.0.0.1', () => resolve());
      });
      const a = s.address();
      port = typeof a === 'object' && a !== null ? a.port : port;
      server = s;
    },
    async pause() {
      const s = server;
      server = null;
      if (s === null) return;
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    async close() {
      clearInterval(reaper);
      await emulator.pause();
      for (const s of sessions.values()) s.conn.closeSync();
      sessions.clear();
      checker.closeSync();
      instance.closeSync();
    },
  };
  await emulator.start();
  return emulator;
}

function putResponse(queryId: string, src: string, location: string): Json {
  return {
    success: true,
    code: null,
    message: null,
    data: {
      queryId,
      command: 'UPLOAD',
      src_locations: [src],
      autoCompress: false,
      sourceCompression: 'gzip',
      parallel: 1,
      overwrite: true,
      encryptionMaterial: null,
      stageInfo: { locationType: 'LOCAL_FS', location, path: '', region: null, storageAccount: null, isClientSideEncrypted: false, creds: {} },
      rowtype: [],
      rowset: [],
      parameters: [],
    },
  };
}

/** A JSON result; every column typed as text (the emulator does not reproduce Snowflake's wire types). */
function rows(queryId: string, names: readonly string[], rowset: (string | null)[][]): Json {
  return {
    success: true,
    code: null,
    message: null,
    data: {
      queryId,
      parameters: [],
      rowtype: names.map((name) => ({ name, database: '', schema: '', table: '', type: 'text', length: 16777216, byteLength: 16777216, nullable: true, scale: null, precision: null })),
      rowset,
      total: rowset.length,
      returned: rowset.length,
      queryResultFormat: 'json',
      statementTypeId: 4096,
      version: 1,
    },
  };
}

function textOf(v: DuckDBValue): string {
  return typeof v === 'object' && v !== null ? v.toString() : String(v);
}

function bindings(b: unknown): DuckDBValue[] {
  if (b === null || typeof b !== 'object') return [];
  const entries = Object.entries(b as Record<string, { value: unknown }>).sort((x, y) => Number(x[0]) - Number(y[0]));
  return entries.map(([, v]) => (v.value === null || v.value === undefined ? null : String(v.value)));
}

/** DuckDB error class (the message's prefix) -> a Snowflake error code and SQLSTATE, so the connector raises the same kind of error. */
function snowflakeCode(message: string): string {
  if (/^(Catalog|Binder|Parser) Error/.test(message)) return '002003';
  if (/^(Conversion|Invalid Input|Out of Range) Error/.test(message)) return '100038';
  return '000603';
}
function sqlState(message: string): string {
  if (/^(Catalog|Binder) Error/.test(message)) return '42S02';
  if (/^Parser Error/.test(message)) return '42000';
  if (/^(Conversion|Invalid Input|Out of Range) Error/.test(message)) return '22018';
  return 'XX000';
}

function jwtValid(token: string, publicKeyPem: string): boolean {
  const [h, p, sig] = token.split('.');
  if (h === undefined || p === undefined || sig === undefined) return false;
  try {
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as { exp?: number };
    if (typeof payload.exp === 'number' && payload.exp * 1000 < Date.now()) return false;
    return verify('RSA-SHA256', Buffer.from(`${h}.${p}`), createPublicKey(publicKeyPem), Buffer.from(sig, 'base64url'));
  } catch {
    return false;
  }
}

async function readBody(req: IncomingMessage): Promise<Json> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  let buf = Buffer.concat(chunks);
  if (req.headers['content-encoding'] === 'gzip') buf = gunzipSync(buf);
  if (buf.length === 0) return {};
  return JSON.parse(buf.toString('utf8')) as Json;
}

function send(res: ServerResponse, body: Json): void {
  const text = JSON.stringify(body);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
