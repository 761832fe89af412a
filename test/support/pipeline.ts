/**
 * Runs the real `tributary hub` and `tributary agent` commands as child
 * processes (so tests can kill -9 them) with configuration files in a temp
 * directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync, createWriteStream, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** The `tributary` command: the sources through tsx, or another build (TRIBUTARY_CLI; benchmarks run the compiled one). */
const cli = (): string => process.env['TRIBUTARY_CLI'] ?? resolve(import.meta.dirname, '../../scripts/tributary.mjs');

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => res(port));
    });
    s.on('error', rej);
  });
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

export class ManagedProcess {
  private child: ChildProcess | null = null;
  private readonly logFile: WriteStream;
  exits = 0;

  constructor(readonly name: string, readonly args: string[], readonly logPath: string, private readonly env: NodeJS.ProcessEnv = {}) {
    this.logFile = createWriteStream(logPath, { flags: 'a' });
  }

  start(): void {
    if (this.child !== null) throw new Error(`${this.name} is already running`);
    // BENCH_CPU_PROFILE_DIR: each process writes a V8 CPU profile there when it exits (benchmarks' profiling aid).
    const profile = process.env['BENCH_CPU_PROFILE_DIR'];
    const flags = profile === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profile}`];
    const child = spawn(process.execPath, [...flags, cli(), ...this.args], { env: { ...process.env, ...this.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.pipe(this.logFile, { end: false });
    child.stderr?.pipe(this.logFile, { end: false });
    child.on('exit', () => {
      this.exits++;
      if (this.child === child) this.child = null;
    });
    this.child = child;
  }

  get running(): boolean {
    return this.child !== null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** SIGKILL: no shutdown code runs, as in a power loss of the process. */
  async kill9(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** SIGTERM and wait for a clean exit; returns the exit code. */
  async stop(): Promise<number | null> {
    return this.signal('SIGTERM');
  }

  private signal(sig: NodeJS.Signals): Promise<number | null> {
    const child = this.child;
    if (child === null) return Promise.resolve(null);
    return new Promise((res) => {
      child.once('exit', (code) => res(code));
      child.kill(sig);
    });
  }

  close(): void {
    this.logFile.end();
  }
}

export interface PipelineDirs {
  readonly root: string;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `tributary-${prefix}-`));
}

export interface HubSetup {
  readonly dir: string;
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly sinkPort: number;
  readonly sinkDatabase: string;
  readonly sinkSchema?: string;
  readonly agentId: string;
  readonly sourceId: string;
  /** False: the hub only ingests into its log (benchmarks measure the two stages apart). */
  readonly withSink?: boolean;
  /** The hub's `security` section; default: the development plaintext mode with TEST_ADMIN_TOKEN. */
  readonly security?: Record<string, unknown>;
  /** Workspace of the test pipeline and sink (default "default"). */
  readonly workspace?: string;
  /** The hub's `alerts` section. */
  readonly alerts?: Record<string, unknown>;
}

/** Admin API token of the "default" workspace in every test hub (the hub keeps only its hash). */
export const TEST_ADMIN_TOKEN = 'test-admin-token-for-integration-tests-only-0123456789';

/** Headers that authenticate a test request to the hub API. */
export function apiHeaders(token = TEST_ADMIN_TOKEN): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/** fetch() against a test hub's HTTP API with the admin token. */
export function apiFetch(port: number, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}${path}`, { ...init, headers: { ...apiHeaders(), ...(init.headers as Record<string, string> | undefined) } });
}

export function hubProcess(s: HubSetup): ManagedProcess {
  const withSink = s.withSink ?? true;
  mkdirSync(s.dir, { recursive: true });
  const config = {
    hubId: 'test-hub',
    grpc: { listen: `127.0.0.1:${s.grpcPort}` },
    http: { listen: `127.0.0.1:${s.httpPort}` },
    log: { kind: 'embedded', path: join(s.dir, 'log') },
    sinks: withSink ? [{ name: 'dest', kind: 'postgres', workspace: s.workspace ?? 'default', host: '127.0.0.1', port: s.sinkPort, database: s.sinkDatabase, user: 'postgres', schema: s.sinkSchema ?? 'public' }] : [],
    pipelines: [{ name: 'main', workspace: s.workspace ?? 'default', agent: s.agentId, source: s.sourceId, sinks: withSink ? ['dest'] : [] }],
    security: s.security ?? { plaintext: true, adminTokens: [{ workspace: 'default', token: TEST_ADMIN_TOKEN }] },
    ...(s.alerts === undefined ? {} : { alerts: s.alerts }),
    logLevel: 'info',
  };
  const path = join(s.dir, withSink ? 'hub.json' : 'hub-log-only.json');
  writeFileSync(path, JSON.stringify(config, null, 2));
  return new ManagedProcess('hub', ['hub', '--config', path], join(s.dir, 'hub.log'));
}

export interface AgentSetup {
  readonly dir: string;
  readonly hubPort: number;
  readonly sourcePort: number;
  readonly sourceDatabase: string;
  readonly agentId: string;
  readonly sourceId: string;
  readonly slot: string;
  readonly spoolMaxBytes?: number;
  readonly batchEvents?: number;
  /** The agent's `hub` section without `address`; default: the development plaintext mode. */
  readonly hub?: Record<string, unknown>;
  /** Extra environment (e.g. an enrollment token). */
  readonly env?: NodeJS.ProcessEnv;
  /** Fields merged into the agent's `source` section (e.g. user and password). */
  readonly source?: Record<string, unknown>;
  /** Fields merged into the agent's `spool` section (e.g. encryptionKey). */
  readonly spool?: Record<string, unknown>;
  /** The agent's `doctor` section. */
  readonly doctor?: Record<string, unknown>;
}

export function agentProcess(s: AgentSetup): ManagedProcess {
  mkdirSync(s.dir, { recursive: true });
  const config = {
    agentId: s.agentId,
    hub: { address: `127.0.0.1:${s.hubPort}`, ...(s.hub ?? { plaintext: true }) },
    spool: { path: join(s.dir, 'spool'), maxBytes: s.spoolMaxBytes ?? 1 << 30, batchEvents: s.batchEvents ?? 2000, ...s.spool },
    source: { kind: 'postgres', id: s.sourceId, host: '127.0.0.1', port: s.sourcePort, database: s.sourceDatabase, user: 'postgres', slot: s.slot, publication: s.slot, ...s.source },
    ...(s.doctor === undefined ? {} : { doctor: s.doctor }),
    logLevel: 'info',
  };
  const path = join(s.dir, 'agent.json');
  writeFileSync(path, JSON.stringify(config, null, 2));
  return new ManagedProcess('agent', ['agent', '--config', path], join(s.dir, 'agent.log'), s.env ?? {});
}

export async function httpJson<T>(port: number, path: string): Promise<T> {
  const r = await apiFetch(port, path);
  if (!r.ok) throw new Error(`GET ${path}: ${r.status}`);
  return (await r.json()) as T;
}
