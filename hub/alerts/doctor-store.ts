/**
 * The latest doctor report of each source, as its agent sent it in a
 * `doctor.findings` event (re-sent every minute, so memory is enough: after
 * a hub restart the next report refills it). Reports are validated: a
 * malformed one is refused, never half-stored.
 */
export type FindingSeverity = 'ok' | 'warning' | 'critical';

export interface DoctorFinding {
  readonly check: string;
  readonly severity: FindingSeverity;
  readonly message: string;
  readonly fix?: string;
}

export interface DoctorEntry {
  /** `agent/source`. */
  readonly source: string;
  readonly workspace: string;
  readonly checkedAt: string;
  readonly receivedAt: string;
  readonly findings: readonly DoctorFinding[];
}

const MAX_FINDINGS = 500;
const MAX_TEXT = 4000;

function text(v: unknown, max = MAX_TEXT): string | null {
  return typeof v === 'string' && v.length > 0 && v.length <= max ? v : null;
}

/** Parses a `doctor.findings` payload; null when it is not one. */
export function parseDoctorPayload(v: unknown): { checkedAt: string; findings: DoctorFinding[] } | null {
  if (v === null || typeof v !== 'object') return null;
  const o = v as Record<string, unknown>;
  const checkedAt = text(o['checkedAt'], 40);
  if (checkedAt === null || Number.isNaN(Date.parse(checkedAt)) || !Array.isArray(o['findings']) || o['findings'].length > MAX_FINDINGS) return null;
  const findings: DoctorFinding[] = [];
  for (const f of o['findings'] as unknown[]) {
    if (f === null || typeof f !== 'object') return null;
    const x = f as Record<string, unknown>;
    const check = text(x['check'], 200);
    const message = text(x['message']);
    const severity = x['severity'];
    if (check === null || message === null || (severity !== 'ok' && severity !== 'warning' && severity !== 'critical')) return null;
    const fix = x['fix'] === undefined ? undefined : text(x['fix']);
    if (fix === null) return null;
    findings.push(fix === undefined ? { check, severity, message } : { check, severity, message, fix });
  }
  return { checkedAt, findings };
}

export class DoctorStore {
  private readonly entries = new Map<string, DoctorEntry>();

  put(entry: DoctorEntry): void {
    this.entries.set(entry.source, entry);
  }

  /** Every source of `agentId` in `workspace`. */
  forAgent(workspace: string, agentId: string): DoctorEntry[] {
    return [...this.entries.values()].filter((e) => e.workspace === workspace && e.source.startsWith(`${agentId}/`));
  }

  all(): DoctorEntry[] {
    return [...this.entries.values()];
  }
}
