/**
 * Secret token formats. A token is `<prefix>.<id>.<secret>[.<pin>]`: the id
 * finds the stored record, only SHA-256 of the secret is stored, and the
 * comparison is constant-time. Secrets are 256 random bits, so a plain hash
 * (not a slow password hash) is the right tool: there is nothing to brute-force.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const API_TOKEN_PREFIX = 'trb1';
export const ENROLLMENT_TOKEN_PREFIX = 'tre1';

export interface ParsedToken {
  readonly id: string;
  readonly secret: string;
  /** Enrollment tokens: SHA-256 fingerprint of the hub CA, hex. */
  readonly pin: string | null;
}

const ID = /^[0-9a-f]{16}$/;
const SECRET = /^[0-9a-f]{64}$/;

export function newToken(prefix: string, pin?: string): { token: string; id: string; hash: string } {
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('hex');
  const token = [prefix, id, secret, ...(pin === undefined ? [] : [pin])].join('.');
  return { token, id, hash: hashSecret(secret) };
}

export function parseToken(prefix: string, token: string): ParsedToken | null {
  if (token.length > 300) return null;
  const parts = token.split('.');
  if (parts[0] !== prefix || parts.length < 3 || parts.length > 4) return null;
  const [, id = '', secret = '', pin] = parts;
  if (!ID.test(id) || !SECRET.test(secret)) return null;
  if (pin !== undefined && !SECRET.test(pin)) return null;
  return { id, secret, pin: pin ?? null };
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Constant-time comparison of a presented secret against a stored hash. */
export function secretMatches(secret: string, storedHash: string): boolean {
  const a = Buffer.from(hashSecret(secret), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
