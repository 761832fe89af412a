/**
 * A private MariaDB server for tests, the benchmark and the demo: its own data
 * directory under os.tmpdir() (mariadb-install-db), its own free TCP port on
 * 127.0.0.1, and the binlog settings the MySQL source needs (ROW format, FULL
 * row image, FULL row metadata, GTIDs, a unique server_id). Never touches the
 * machine's own MariaDB.
 *
 * mariadbd refuses to run as root unless told to: under root it runs as the
 * `mysql` system user when that exists (the data dir is chowned), else with
 * --user=root. root@localhost gets an empty password over TCP
 * (--auth-root-authentication-method=normal): the instance listens on
 * loopback only and lives as long as the test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, closeSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';

export interface MariaDbInstance {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly serverId: number;
  readonly dataDir: string;
  /** A root connection (caller closes it). */
  connect(database?: string): Promise<mysql.Connection>;
  /** Runs statements on a short-lived root connection. */
  exec(...statements: string[]): Promise<void>;
  /** Shuts down and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
  /** Stops and starts again on the same port and data dir, with extra or changed server options. */
  restart(extraArgs?: readonly string[]): Promise<void>;
}

export interface MariaDbOptions {
  /** Extra `--name=value` server options (they override the defaults below); `--no-name` removes a default. */
  readonly args?: readonly string[];
}

const READY_TIMEOUT_MS = 60_000;
let nextServerId = 1000 + (process.pid % 10_000) * 10;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => (port > 0 ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

/** uid/gid of the `mysql` system user, when running as root and it exists. */
function mysqlUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === 'mysql') return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  return undefined;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

class Instance implements MariaDbInstance {
  readonly host = '127.0.0.1' as const;
  readonly dataDir: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly onExit = (): void => this.killSync();
  private readonly logFile: string;

  constructor(
    readonly port: number,
    readonly serverId: number,
    private readonly dir: string,
    private readonly as: { uid: number; gid: number } | undefined,
    private args: readonly string[],
  ) {
    this.dataDir = join(dir, 'data');
    this.logFile = join(dir, 'mariadbd.log');
  }

  private userArg(): string {
    return this.as !== undefined ? '--user=mysql' : process.getuid?.() === 0 ? '--user=root' : '';
  }

  async install(): Promise<void> {
    const out = join(this.dir, 'install.log');
    const args = ['--no-defaults', `--datadir=${this.dataDir}`, `--tmpdir=${join(this.dir, 'tmp')}`, '--auth-root-authentication-method=normal', '--skip-test-db', '--skip-name-resolve'];
    const user = this.userArg();
    if (user !== '') args.push(user);
    const code = await this.run('mariadb-install-db', args, out);
    if (code !== 0) throw new Error(`mariadb-install-db failed (exit ${code}):\n${await readFile(out, 'utf8').catch(() => '')}`);
  }

  private serverArgs(): string[] {
    const defaults: Record<string, string> = {
      datadir: this.dataDir,
      tmpdir: join(this.dir, 'tmp'),
      port: String(this.port),
      'bind-address': '127.0.0.1',
      socket: join(this.dir, 'mariadbd.sock'),
      'pid-file': join(this.dir, 'mariadbd.pid'),
      'log-error': this.logFile,
      'server-id': String(this.serverId),
      'log-bin': join(this.dataDir, 'binlog'),
      'binlog-format': 'ROW',
      'binlog-row-image': 'FULL',
      'binlog-row-metadata': 'FULL',
      'gtid-domain-id': '0',
      'gtid-strict-mode': '1',
      'log-slave-updates': '1',
      'character-set-server': 'utf8mb4',
      'collation-server': 'utf8mb4_unicode_ci',
      'default-time-zone': '+00:00',
      'skip-name-resolve': '1',
      'innodb-buffer-pool-size': '64M',
      'innodb-log-file-size': '64M',
      'max-connections': '200',
      'max-allowed-packet': '64M',
    };
    for (const a of this.args) {
      // `--no-NAME` drops a default (e.g. --no-log-bin: a server without a binary log).
      if (a.startsWith('--no-')) {
        delete defaults[a.slice(5)];
        continue;
      }
      const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
      if (m !== null) defaults[m[1]!.replace(/_/g, '-')] = m[2] ?? '1';
    }
    const out = ['--no-defaults', ...Object.entries(defaults).map(([k, v]) => `--${k}=${v}`)];
    const user = this.userArg();
    if (user !== '') out.push(user);
    return out;
  }

  async start(): Promise<void> {
    const child = spawn('/usr/sbin/mariadbd', this.serverArgs(), { cwd: this.dir, stdio: ['ignore', 'ignore', 'ignore'] });
    child.unref();
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    process.on('exit', this.onExit);
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`mariadbd exited during startup:\n${await this.logTail()}`);
      try {
        const c = await this.connect();
        await c.end();
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`mariadbd not ready after ${READY_TIMEOUT_MS} ms:\n${await this.logTail()}`, { cause: err });
        await sleep(100);
      }
    }
  }

  connect(database?: string): Promise<mysql.Connection> {
    return mysql.createConnection({
      host: this.host,
      port: this.port,
      user: 'root',
      ...(database !== undefined ? { database } : {}),
      supportBigNumbers: true,
      bigNumberStrings: true,
      dateStrings: true,
      timezone: 'Z',
      multipleStatements: true,
      connectTimeout: 5_000,
    });
  }

  async exec(...statements: string[]): Promise<void> {
    const c = await this.connect();
    try {
      for (const s of statements) await c.query(s);
    } finally {
      await c.end();
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.shutdown();
    await rm(this.dir, { recursive: true, force: true, maxRetries: 5 });
  }

  async restart(extraArgs: readonly string[] = []): Promise<void> {
    await this.shutdown();
    this.args = [...this.args, ...extraArgs];
    await this.start();
  }

  private async shutdown(): Promise<void> {
    const child = this.child;
    if (child?.pid === undefined) return;
    child.ref();
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    await this.exited;
    clearTimeout(timer);
    child.unref();
    process.off('exit', this.onExit);
    this.child = undefined;
  }

  private killSync(): void {
    try {
      if (this.child?.pid !== undefined) process.kill(this.child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    try {
      rmSync(this.dir, { recursive: true, force: true });
    } catch {
      // the temp dir is all that leaks
    }
  }

  private run(bin: string, args: string[], outFile: string): Promise<number | null> {
    const fd = openSync(outFile, 'a');
    try {
      const child = spawn(bin, args, { cwd: this.dir, stdio: ['ignore', fd, fd] });
      return new Promise((resolve, reject) => {
        child.once('error', reject);
        child.once('exit', (code) => resolve(code));
      });
    } finally {
      closeSync(fd);
    }
  }

  private async logTail(): Promise<string> {
    const text = await readFile(this.logFile, 'utf8').catch(() => '');
    return text.split('\n').slice(-30).join('\n');
  }
}

/** Starts a fresh private MariaDB. The caller must `stop()` it (an exit handler kills it if the process dies first). */
export async function startMariaDb(opts: MariaDbOptions = {}): Promise<MariaDbInstance> {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-mariadb-'));
  const as = mysqlUser();
  mkdirSync(join(dir, 'data'));
  // A private tmpdir: the bootstrap's temporary tables must not meet another instance's in /tmp.
  mkdirSync(join(dir, 'tmp'));
  if (as !== undefined) {
    chownSync(dir, as.uid, as.gid);
    chownSync(join(dir, 'data'), as.uid, as.gid);
    chownSync(join(dir, 'tmp'), as.uid, as.gid);
  }
  const instance = new Instance(await freePort(), nextServerId++, dir, as, opts.args ?? []);
  try {
    await instance.install();
    await instance.start();
    return instance;
  } catch (err) {
    await instance.stop().catch(() => undefined);
    throw err;
  }
}
