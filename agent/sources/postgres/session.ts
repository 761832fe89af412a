/**
 * What every PostgreSQL connection of the agent shares — session settings
 * as a startup parameter, and failures mapped to AgentError kinds — without
 * the replication client (the snapshot chunk thread loads only this).
 */
import { AgentError } from '../../errors.js';

/** The escaped `options` startup parameter for session settings. */
export function optionsString(settings: Readonly<Record<string, string>>): string {
  return Object.entries(settings)
    .map(([k, v]) => `-c ${k}=${v.replace(/\\/g, '\\\\').replace(/ /g, '\\ ')}`)
    .join(' ');
}

/** Maps a failure to an AgentError by SQLSTATE (never by message text). */
export function classify(cause: unknown): AgentError {
  if (cause instanceof AgentError) return cause;
  const code = (cause as { code?: unknown } | null)?.code;
  const text = cause instanceof Error ? cause.message : String(cause);
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) {
    const cls = code.slice(0, 2);
    if (cls === '28' || code === '42501') return new AgentError('source-permission', `PostgreSQL refused access (SQLSTATE ${code}): ${text}`, { cause });
    if (code === '55000' || code === '42704' || code === '0A000' || cls === '22' || cls === '42')
      return new AgentError('source-misconfigured', `PostgreSQL rejected the replication setup (SQLSTATE ${code}): ${text}`, { cause });
    if (code === '55006') return new AgentError('source-unavailable', `replication slot is in use by another process (SQLSTATE ${code}): ${text}`, { cause });
    return new AgentError('source-unavailable', `PostgreSQL error (SQLSTATE ${code}): ${text}`, { cause });
  }
  return new AgentError('source-unavailable', `connection to PostgreSQL failed: ${text}`, { cause });
}
