/**
 * A small promise wrapper over `snowflake-sdk`: one session, statements with
 * positional binds, errors mapped to HubErrors by Snowflake error code and
 * SQLSTATE (never by message text).
 */
import type snowflake from 'snowflake-sdk';
import { HubError } from '../../errors.js';
import type { SnowflakeSinkConfig } from './config.js';

type Bind = string | number | boolean | null;
type Row = Record<string, unknown>;

/** Connector (client-side) error codes of network and session failures: the account may answer again. */
const TRANSIENT_CLIENT_CODES = new Set([401001, 401002, 401003, 402001, 402002, 405501, 405502, 405503]);
/** Snowflake server codes after which a retry can succeed: warehouse suspended/resuming, statement aborted or queued too long, session gone. */
const TRANSIENT_SERVER_CODES = new Set(['000604', '000605', '000625', '000630', '390111', '390112', '390114', '390104', '000606', '002037']);

let configured = false;

export class SnowflakeClient {
  private conn: snowflake.Connection | null = null;

  constructor(private readonly config: SnowflakeSinkConfig) {}

  /** Runs one statement; resolves with its rows (numbers and dates as strings, so nothing is rounded). */
  async exec(sqlText: string, binds: readonly Bind[] = []): Promise<Row[]> {
    const conn = await this.withDeadline(this.connect(), 'login');
    return this.withDeadline(
      new Promise<Row[]>((resolve, reject) => {
        conn.execute({
          sqlText,
          ...(binds.length > 0 ? { binds: [...binds] } : {}),
          fetchAsString: ['Number', 'Date', 'JSON', 'Boolean'],
          complete: (err, _stmt, rows) => (err ? reject(this.classify(err, sqlText)) : resolve((rows ?? []) as Row[])),
        });
      }),
      sqlText,
    );
  }

  /** Fails as sink-unavailable when no reply comes in time, dropping the session (Snowflake rolls back its open transaction). */
  private async withDeadline<T>(work: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        void this.reset();
        reject(new HubError('sink-unavailable', `sink ${this.config.name}: no reply from Snowflake within ${this.config.requestTimeoutMs} ms (${what.slice(0, 80)})`));
      }, this.config.requestTimeoutMs);
    });
    try {
      return await Promise.race([work, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    const conn = this.conn;
    this.conn = null;
    if (conn === null) return;
    await new Promise<void>((resolve) => conn.destroy(() => resolve()));
  }

  /** Drops the session after a failure that may have left it unusable; the next statement logs in again. */
  async reset(): Promise<void> {
    await this.close().catch(() => undefined);
  }

  private async connect(): Promise<snowflake.Connection> {
    if (this.conn !== null) return this.conn;
    // Loaded on first use: the connector pulls in the AWS and Azure SDKs (seconds of start-up), which hubs without a Snowflake sink should not pay.
    const sdk = (await import('snowflake-sdk')).default;
    if (!configured) {
      sdk.configure({ logLevel: 'ERROR', additionalLogToConsole: false });
      configured = true;
    }
    const c = this.config;
    const auth =
      c.auth.kind === 'password'
        ? { password: c.auth.password.reveal() }
        : { authenticator: 'SNOWFLAKE_JWT', privateKey: c.auth.privateKey.reveal(), ...(c.auth.passphrase === null ? {} : { privateKeyPass: c.auth.passphrase.reveal() }) };
    const conn = sdk.createConnection({
      account: c.account,
      username: c.user,
      ...auth,
      warehouse: c.warehouse,
      database: c.database,
      schema: c.schema,
      ...(c.role === null ? {} : { role: c.role }),
      ...(c.accessUrl === null ? {} : { accessUrl: c.accessUrl }),
      application: 'Tributary',
      // The sink worker retries with its own backoff; the connector should fail fast.
      sfRetryMaxLoginRetries: 1,
      // Bounds the connector's own retries of a request (which would otherwise outlive our deadline).
      timeout: this.config.requestTimeoutMs,
    } as snowflake.ConnectionOptions);
    this.conn = conn;
    try {
      // connect() reports a refused login through its callback (connectAsync would swallow it into the callback too).
      await new Promise<void>((resolve, reject) => conn.connect((err) => (err ? reject(err) : resolve())));
    } catch (err) {
      this.conn = null;
      throw this.classify(err, 'login');
    }
    return conn;
  }

  private classify(err: unknown, what: string): HubError {
    if (err instanceof HubError) return err;
    const e = err as { code?: unknown; sqlState?: unknown; message?: unknown };
    const code = e.code === undefined ? '' : String(e.code);
    const state = typeof e.sqlState === 'string' ? e.sqlState : '';
    const message = typeof e.message === 'string' ? e.message : String(err);
    const where = `sink ${this.config.name}: ${what.length > 160 ? `${what.slice(0, 160)}…` : what}`;
    const transient = TRANSIENT_CLIENT_CODES.has(Number(code)) || TRANSIENT_SERVER_CODES.has(code) || /^(08|40|53|57)/.test(state) || code === '';
    if (transient) {
      void this.reset();
      return new HubError('sink-unavailable', `${where}: Snowflake unreachable or busy (code ${code || 'none'}): ${message}`, { cause: err });
    }
    if (code === '390100' || code === '390144' || code === '394304') return new HubError('sink-rejected', `${where}: authentication refused (code ${code})`, { cause: err });
    const kind = state.startsWith('42') ? 'schema' : 'sink-rejected';
    return new HubError(kind, `${where}: Snowflake error ${code} (SQLSTATE ${state || 'none'}): ${message}`, { cause: err });
  }
}
