/**
 * Runs built images without a Docker engine: `buildah from` makes a working
 * container of an image, `buildah run --isolation=chroot` runs a command in it
 * as the image's user, with its environment and working directory, sharing
 * the host's network (so a PostgreSQL on 127.0.0.1 is reachable). Bind mounts
 * stand in for `docker run -v`.
 *
 * buildah does not forward SIGTERM to the command (it kills it), so stop()
 * signals the command's `node` process directly, as `docker stop` signals
 * PID 1, which the images' exec-form ENTRYPOINT makes `node`.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync } from 'node:fs';

/** The parts of an image's Docker configuration that `docker run` uses. */
export interface ImageConfig {
  readonly User: string;
  readonly Env: readonly string[];
  readonly Entrypoint: readonly string[];
  readonly Cmd: readonly string[] | null;
  readonly WorkingDir: string;
  readonly Volumes: Record<string, unknown> | null;
  readonly Healthcheck?: { readonly Test: readonly string[] };
}

export function imageConfig(image: string): ImageConfig {
  const out = execFileSync('buildah', ['inspect', '--type', 'image', image], { encoding: 'utf8' });
  return (JSON.parse(out) as { Docker: { config: ImageConfig } }).Docker.config;
}

/** Size of an image as buildah stores it (uncompressed), e.g. "212 MB". */
export function imageSize(image: string): string {
  return execFileSync('buildah', ['images', '--format', '{{.Size}}', image], { encoding: 'utf8' }).trim();
}

export interface RunOptions {
  /** [host path, container path, 'ro'?] */
  readonly mounts: readonly (readonly [string, string, 'ro'?])[];
  readonly env?: Record<string, string>;
}

export class Container {
  private constructor(readonly id: string) {}

  /**
   * A working container of `image`. `buildah run` (1.28) mounts an anonymous volume on
   * each of the image's VOLUME paths and, in an order that varies from run to run, a
   * bind mount given for the same path; `docker run -v` replaces it. So the working
   * container drops the VOLUME declarations (the image keeps them; imageConfig shows them).
   */
  static create(image: string): Container {
    const id = execFileSync('buildah', ['from', '--pull=never', image], { encoding: 'utf8' }).trim();
    for (const path of Object.keys(imageConfig(image).Volumes ?? {})) execFileSync('buildah', ['config', '--volume', `${path}-`, id]);
    return new Container(id);
  }

  private args(command: readonly string[], o: RunOptions): string[] {
    const args = ['run', '--isolation=chroot'];
    for (const [host, path, ro] of o.mounts) args.push('-v', `${host}:${path}${ro ? ':ro' : ''}`);
    for (const [k, v] of Object.entries(o.env ?? {})) args.push('--env', `${k}=${v}`);
    return [...args, this.id, '--', ...command];
  }

  /** Starts a command in the container; its output goes to `logPath`. */
  start(command: readonly string[], o: RunOptions, logPath: string): Running {
    const child = spawn('buildah', this.args(command, o), { stdio: ['ignore', 'pipe', 'pipe'] });
    const log = createWriteStream(logPath, { flags: 'a' });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    return new Running(child, logPath);
  }

  /** Runs a command to completion. */
  run(command: readonly string[], o: RunOptions): { status: number | null; output: string } {
    const r = spawnSync('buildah', this.args(command, o), { encoding: 'utf8', timeout: 120_000 });
    return { status: r.status, output: `${r.stdout}${r.stderr}` };
  }

  /** The container's root filesystem on the host, for inspecting its files. */
  mount(): string {
    return execFileSync('buildah', ['mount', this.id], { encoding: 'utf8' }).trim();
  }

  remove(): void {
    spawnSync('buildah', ['rm', this.id], { stdio: 'ignore' });
  }
}

const stat = (pid: number): { comm: string; ppid: number } | undefined => {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { comm: s.slice(s.indexOf('(') + 1, s.lastIndexOf(')')), ppid: Number(fields[1]) };
  } catch {
    return undefined;
  }
};

export class Running {
  readonly exited: Promise<number | null>;
  readonly spawnedAt = performance.now();

  constructor(private readonly child: ChildProcess, readonly logPath: string) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  get hasExited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  get log(): string {
    return readFileSync(this.logPath, 'utf8');
  }

  /** Processes under `buildah run`, parents first: its chroot helpers, then the command. */
  private descendants(): { pid: number; comm: string }[] {
    const found: { pid: number; comm: string }[] = [];
    const pids = readdirSync('/proc').filter((e) => /^\d+$/.test(e)).map(Number);
    const pending = [this.child.pid ?? -1];
    while (pending.length > 0) {
      const parent = pending.shift();
      for (const pid of pids) {
        const s = stat(pid);
        if (s === undefined || s.ppid !== parent) continue;
        found.push({ pid, comm: s.comm });
        pending.push(pid);
      }
    }
    return found;
  }

  /** The `node` process under buildah's chroot helpers, once it exists. */
  nodePid(): number | undefined {
    return this.descendants().find((p) => p.comm === 'node')?.pid;
  }

  /** Fields of /proc/<node>/status, e.g. VmRSS, RssAnon, Uid. */
  nodeStatus(): Record<string, string> {
    const pid = this.nodePid();
    if (pid === undefined) throw new Error('no node process');
    const out: Record<string, string> = {};
    for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
      const i = line.indexOf(':');
      if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
    }
    return out;
  }

  /** SIGTERM to node, as `docker stop` sends it to PID 1; resolves with buildah's exit status. */
  async stop(timeoutMs = 60_000): Promise<number | null> {
    const pid = this.nodePid();
    if (pid !== undefined) process.kill(pid, 'SIGTERM');
    const timer = setTimeout(() => this.kill(), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL to the command and buildah's helpers too: killing buildah alone leaves them running. */
  kill(): void {
    if (this.hasExited) return;
    for (const { pid } of this.descendants().reverse()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    this.child.kill('SIGKILL');
  }
}
