/**
 * Request bodies of the API: JSON objects only, at most MAX_BODY_BYTES, with
 * exactly the known fields. Everything else is a 4xx naming the problem.
 */
import type { Context } from 'hono';
import { HubError } from '../errors.js';

export const MAX_BODY_BYTES = 64 * 1024;

export async function jsonObject(c: Context, allowed: readonly string[]): Promise<Record<string, unknown>> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type)) throw new HubError('bad-request', 'the body must be JSON (content-type: application/json)');
  let text: string;
  try {
    text = await c.req.text();
  } catch (cause) {
    throw new HubError('bad-request', 'the body could not be read', { cause });
  }
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) throw new HubError('message-too-large', `the body is larger than ${MAX_BODY_BYTES} bytes`);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (cause) {
    throw new HubError('bad-request', 'the body is not valid JSON', { cause });
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new HubError('bad-request', 'the body must be a JSON object');
  for (const k of Object.keys(v)) if (!allowed.includes(k)) throw new HubError('bad-request', `unknown field ${JSON.stringify(k.slice(0, 60))} (expected ${allowed.join(', ') || 'none'})`);
  return v as Record<string, unknown>;
}

export function stringField(body: Record<string, unknown>, key: string, pattern: RegExp, hint: string, def?: string): string {
  const v = body[key] ?? def;
  if (typeof v !== 'string' || !pattern.test(v)) throw new HubError('bad-request', `${key}: expected ${hint}`);
  return v;
}
