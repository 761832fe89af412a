/**
 * A private Apache Kafka (KRaft) per call, started by scripts/kafka/kafka.sh
 * from jars resolved on Maven Central into .cache/kafka (the first call
 * resolves them, about a minute; later calls start in seconds).
 */
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const SCRIPT = resolve(import.meta.dirname, '../../scripts/kafka/kafka.sh');

export interface KafkaOptions {
  /** 1 (default) or 3 combined broker+controller nodes; with 3: replication factor 3, min ISR 2. */
  readonly brokers?: 1 | 3;
  /** Another broker line than the pom's default, e.g. '3.9.1'. */
  readonly version?: string;
}

export interface KafkaInstance {
  /** Comma-separated host:port list of all brokers. */
  readonly bootstrap: string;
  readonly dir: string;
  readonly version: string;
  /** Stops every node and deletes the data directory. */
  stop(): Promise<void>;
  /** SIGKILL node i (0-based); its data stays for restartBroker. */
  killBroker(i: number): Promise<void>;
  /** Starts node i (0-based) again on the same ports and data; resolves when it serves. */
  restartBroker(i: number): Promise<void>;
  /** Runs a class from the Kafka jars (tools such as ProducerPerformance); resolves with stdout. */
  runTool(mainClass: string, args: readonly string[]): Promise<string>;
}

const live = new Set<string>();
let exitHookInstalled = false;

function pidsOf(dir: string): number[] {
  try {
    return readFileSync(join(dir, 'pids'), 'utf8').split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: SIGKILL the JVMs and drop their data, nothing of it is worth keeping.
  process.on('exit', () => {
    for (const dir of live) {
      for (const pid of pidsOf(dir)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

function run(args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs = 180_000): Promise<string> {
  return new Promise((res, rej) => {
    execFile('bash', [SCRIPT, ...args], { env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) rej(new Error(`kafka.sh ${args.join(' ')} failed: ${err.message}\n${stderr.trim()}`));
      else res(stdout);
    });
  });
}

/** Resolves the jars once (idempotent); call it in a `before` with a long timeout to keep the first start short. */
export function fetchKafka(version?: string): void {
  const r = spawnSync('bash', [SCRIPT, 'fetch'], { env: { ...process.env, ...(version ? { KAFKA_VERSION: version } : {}) }, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`kafka.sh fetch failed (exit ${r.status ?? r.signal})`);
}

/** Starts a fresh private Kafka. The caller must `stop()` it (an exit handler kills it if the process dies first). */
export async function startKafka(opts: KafkaOptions = {}): Promise<KafkaInstance> {
  const brokers = opts.brokers ?? 1;
  const env: NodeJS.ProcessEnv = opts.version ? { KAFKA_VERSION: opts.version } : {};
  const dir = await mkdtemp(join(tmpdir(), 'tributary-kafka-'));
  installExitHook();
  live.add(dir);
  try {
    await run(['start', dir, '--brokers', String(brokers)], env);
  } catch (err) {
    await run(['stop', dir], env).catch(() => undefined);
    live.delete(dir);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const bootstrap = readFileSync(join(dir, 'bootstrap'), 'utf8').trim();
  const version = readFileSync(join(dir, 'version'), 'utf8').trim();
  const node = (i: number): string => {
    if (!Number.isInteger(i) || i < 0 || i >= brokers) throw new RangeError(`no broker ${i} (0..${brokers - 1})`);
    return String(i + 1);
  };
  return {
    bootstrap,
    dir,
    version,
    async stop() {
      await run(['stop', dir], env);
      live.delete(dir);
      await rm(dir, { recursive: true, force: true });
    },
    async killBroker(i) {
      await run(['kill', dir, node(i)], env);
    },
    async restartBroker(i) {
      await run(['restart', dir, node(i)], env);
    },
    runTool(mainClass, args) {
      return run(['java', dir, mainClass, ...args], env, 600_000);
    },
  };
}
