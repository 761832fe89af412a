import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AgentError } from '../errors.js';
import { withSequence } from './batch-builder.js';
import { EncryptedChangeBuffer, parseSpoolKey } from './encrypted-change-buffer.js';
import { LmdbChangeBuffer } from './lmdb-change-buffer.js';

const MARKER = 'customer-email@example.com-7f3a';

describe('spool encryption at rest', () => {
  it('keeps no readable change data on disk and gives the uplink the same bytes as a plain spool', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tributary-spool-enc-'));
    const key = randomBytes(32);
    const bodies = [1, 2, 200].map((n) => Buffer.from(`\x1a\x20${MARKER}-${String(n).padStart(3, '0')}`));
    let buffer = new EncryptedChangeBuffer(await LmdbChangeBuffer.open({ path: join(dir, 'spool'), maxBytes: 1 << 24 }), key);
    for (const [i, b] of bodies.entries()) await buffer.append(b, BigInt(100 + i));
    // More than 127 batches so the sequence prefix grows to two bytes.
    for (let i = 0; i < 130; i++) await buffer.append(Buffer.from(`\x1a\x03row`), BigInt(1000 + i));
    const read = buffer.read(1, 200, 1 << 24);
    assert.equal(read.length, 133);
    for (const [i, b] of bodies.entries()) assert.deepEqual(Buffer.from(read[i]?.bytes ?? []), Buffer.from(withSequence(b, i + 1)));
    assert.deepEqual(Buffer.from(read[132]?.bytes ?? []), Buffer.from(withSequence(Buffer.from('\x1a\x03row'), 133)));
    await buffer[Symbol.asyncDispose]();
    for (const f of readdirSync(join(dir, 'spool'))) assert.equal(readFileSync(join(dir, 'spool', f)).includes(MARKER), false, `${f} holds plaintext`);
    // Control: the same bodies in a plain spool are readable in its files.
    const plain = await LmdbChangeBuffer.open({ path: join(dir, 'plain'), maxBytes: 1 << 24 });
    for (const [i, b] of bodies.entries()) await plain.append(b, BigInt(100 + i));
    await plain[Symbol.asyncDispose]();
    assert.ok(readdirSync(join(dir, 'plain')).some((f) => readFileSync(join(dir, 'plain', f)).includes(MARKER)));

    buffer = new EncryptedChangeBuffer(await LmdbChangeBuffer.open({ path: join(dir, 'spool'), maxBytes: 1 << 24 }), randomBytes(32));
    assert.throws(() => buffer.read(1, 1, 1 << 20), (e: unknown) => e instanceof AgentError && e.kind === 'spool-corrupt' && /cannot be decrypted/.test(e.message));
    await buffer[Symbol.asyncDispose]();
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes a key of exactly 64 hexadecimal characters', () => {
    assert.equal(parseSpoolKey('ab'.repeat(32))?.length, 32);
    assert.equal(parseSpoolKey('ab'.repeat(31)), null);
    assert.equal(parseSpoolKey('zz'.repeat(32)), null);
  });
});
