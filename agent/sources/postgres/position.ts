import { AgentError } from '../../errors.js';

/**
 * A PostgreSQL WAL position (`pg_lsn`): an unsigned 64-bit byte offset into the WAL.
 * Kept as `bigint` everywhere so positions compare and subtract exactly; text is
 * only for logs, SQL and the replication protocol's `START_REPLICATION ... <lsn>`.
 */
export type Lsn = bigint;

/** `0/0`, PostgreSQL's InvalidXLogRecPtr: "no position yet". */
export const INVALID_LSN: Lsn = 0n;

const MAX_HALF = 0xffffffff;

/**
 * Parses PostgreSQL's text form `XXXXXXXX/XXXXXXXX` (1–8 hex digits on each side,
 * either case, as `pg_lsn` input accepts) into a bigint.
 * Throws AgentError('protocol') on anything else, because an LSN we cannot read
 * means we no longer know where the stream is.
 */
export function parseLsn(text: string): Lsn {
  const slash = text.indexOf('/');
  if (slash < 0) throw malformed(text);
  const hi = parseHalf(text, 0, slash);
  const lo = parseHalf(text, slash + 1, text.length);
  if (hi < 0 || lo < 0) throw malformed(text);
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** Formats as PostgreSQL prints `pg_lsn`: upper-case hex halves without padding, e.g. `16/B374D848`. */
export function formatLsn(lsn: Lsn): string {
  if (lsn < 0n || lsn > 0xffffffffffffffffn) {
    throw new AgentError('internal', `LSN out of range: ${lsn}`);
  }
  const hi = Number(lsn >> 32n);
  const lo = Number(lsn & 0xffffffffn);
  return `${hi.toString(16).toUpperCase()}/${lo.toString(16).toUpperCase()}`;
}

/** One hex half, or -1 when it is empty, too long or not hex. */
function parseHalf(text: string, start: number, end: number): number {
  const len = end - start;
  if (len < 1 || len > 8) return -1;
  let v = 0;
  for (let i = start; i < end; i++) {
    const d = hexDigit(text.charCodeAt(i));
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v <= MAX_HALF ? v : -1;
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

function malformed(text: string): AgentError {
  return new AgentError('protocol', `malformed LSN ${JSON.stringify(text.slice(0, 40))}: expected hex "X/X"`);
}
