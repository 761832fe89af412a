/**
 * `tributary health --file FILE [--max-age SECONDS]`: exit 0 when the agent's
 * status file (see status-file.ts) was refreshed within the last SECONDS
 * (default 30) and the agent has not recorded that it stopped; exit 1 with the
 * reason on stderr otherwise; exit 2 for wrong arguments. Used as the agent
 * image's HEALTHCHECK.
 */
import { readFile } from 'node:fs/promises';

export interface HealthVerdict {
  readonly healthy: boolean;
  readonly reason: string;
}

/** Judges a status file's text at time `now`; pure, for tests. */
export function judgeStatus(text: string, now: Date, maxAgeSeconds: number): HealthVerdict {
  let record: unknown;
  try {
    record = JSON.parse(text);
  } catch {
    return { healthy: false, reason: 'status file is not valid JSON' };
  }
  if (record === null || typeof record !== 'object') return { healthy: false, reason: 'status file is not a JSON object' };
  const { time, state } = record as { time?: unknown; state?: unknown };
  const at = typeof time === 'string' ? Date.parse(time) : Number.NaN;
  if (Number.isNaN(at)) return { healthy: false, reason: 'status file has no valid "time"' };
  if (state === 'stopped') return { healthy: false, reason: `agent stopped at ${String(time)}` };
  const age = (now.getTime() - at) / 1000;
  if (age > maxAgeSeconds) return { healthy: false, reason: `status is ${age.toFixed(0)} s old (more than ${maxAgeSeconds} s)` };
  return { healthy: true, reason: `status refreshed ${Math.max(0, age).toFixed(1)} s ago` };
}

const USAGE = 'usage: tributary health --file FILE [--max-age SECONDS]\n';

export async function main(argv: readonly string[]): Promise<number> {
  const value = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const file = value('--file');
  const maxAge = Number(value('--max-age') ?? '30');
  if (file === undefined || !Number.isFinite(maxAge) || maxAge <= 0) {
    process.stderr.write(USAGE);
    return 2;
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    process.stderr.write(`unhealthy: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}\n`);
    return 1;
  }
  const verdict = judgeStatus(text, new Date(), maxAge);
  process.stdout.write(`${verdict.healthy ? 'healthy' : 'unhealthy'}: ${verdict.reason}\n`);
  return verdict.healthy ? 0 : 1;
}
