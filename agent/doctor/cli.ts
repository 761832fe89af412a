/**
 * `tributary doctor --config FILE [--json] [--sample-seconds N]`: checks the
 * agent's source once and prints every finding with its fix. Exit status 0
 * when nothing is critical, 1 when something is, 2 for usage or
 * configuration errors. The WAL rate (PostgreSQL: time left before the slot
 * would be invalidated) is measured over the sample interval (default 2 s;
 * 0 skips it).
 */
import { loadAgentConfig, type AgentConfig } from '../config.js';
import { Doctor } from './doctor.js';
import { worst, type DoctorReport } from './finding.js';

const USAGE = 'usage: tributary doctor --config FILE [--json] [--sample-seconds N]\n';

export function formatReport(config: AgentConfig, report: DoctorReport): string {
  const s = config.source;
  const where = s.kind === 'postgres' ? `${s.host}:${s.port}/${s.database}` : `${s.host}:${s.port}`;
  const lines = [`source ${s.id} (${s.kind} ${where}), checked ${report.checkedAt}`];
  const width = Math.max(...report.findings.map((f) => f.check.length), 5);
  for (const f of report.findings) {
    const label = f.severity === 'ok' ? 'ok' : f.severity.toUpperCase();
    lines.push(`  ${label.padEnd(10)}${f.check.padEnd(width + 2)}${f.message}`);
    if (f.fix !== undefined) lines.push(`  ${''.padEnd(10 + width + 2)}fix: ${f.fix}`);
  }
  const count = (sev: string): number => report.findings.filter((f) => f.severity === sev).length;
  lines.push(`${count('critical')} critical, ${count('warning')} warning(s), ${count('ok')} ok`);
  return lines.join('\n') + '\n';
}

export async function main(argv: readonly string[]): Promise<number> {
  const i = argv.indexOf('--config');
  const file = i >= 0 ? argv[i + 1] : undefined;
  const j = argv.indexOf('--sample-seconds');
  const sample = j >= 0 ? Number(argv[j + 1]) : 2;
  const known = new Set(['--config', '--json', '--sample-seconds']);
  const unknown = argv.filter((a, k) => a.startsWith('--') && !known.has(a) && argv[k - 1] !== '--config');
  if (file === undefined || !Number.isFinite(sample) || sample < 0 || sample > 600 || unknown.length > 0) {
    process.stderr.write(unknown.length > 0 ? `unknown option ${unknown[0]}\n${USAGE}` : USAGE);
    return 2;
  }
  let config: AgentConfig;
  try {
    config = loadAgentConfig(file);
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  const doctor = new Doctor(config.source);
  if (sample > 0 && config.source.kind === 'postgres') {
    await doctor.baseline();
    await new Promise((r) => setTimeout(r, sample * 1000));
  }
  const report = await doctor.check({ running: false });
  process.stdout.write(argv.includes('--json') ? `${JSON.stringify({ source: config.source.id, kind: config.source.kind, ...report, status: worst(report.findings) }, null, 2)}\n` : formatReport(config, report));
  return worst(report.findings) === 'critical' ? 1 : 0;
}
