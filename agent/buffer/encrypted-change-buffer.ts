/**
 * Optional encryption at rest of the spool: a ChangeBuffer decorator that
 * seals each batch body with AES-256-GCM under a key held only in the
 * agent's environment, and opens it again when the uplink reads it. The
 * spool then holds no readable change data; what the hub receives is
 * unchanged. Schema fingerprints and positions stay in clear (no row data).
 *
 * Sealed body: 0x01 | 12-byte nonce | 16-byte tag | ciphertext. A spool
 * written without encryption cannot be read with it (and vice versa): turn
 * encryption on or off only when the hub has acknowledged everything.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { AgentError } from '../errors.js';
import { withSequence } from './batch-builder.js';
import type { ChangeBuffer, ChangeBufferState, SchemaVersionRecord, SpooledBatch } from './change-buffer.js';
import type { SnapshotRecord } from '../snapshot/snapshot-record.js';

const VERSION = 0x01;
const AAD = Buffer.from('tributary-spool-v1');

/** A 256-bit key written as 64 hexadecimal characters; null when the text is not one. */
export function parseSpoolKey(text: string): Buffer | null {
  return /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : null;
}

export function seal(key: Buffer, body: Uint8Array): Buffer {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(AAD);
  const ct = Buffer.concat([cipher.update(body), cipher.final()]);
  return Buffer.concat([Buffer.of(VERSION), nonce, cipher.getAuthTag(), ct]);
}

export function unseal(key: Buffer, sealed: Uint8Array): Buffer {
  const b = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  if (b.length < 29 || b[0] !== VERSION) throw new Error('not a sealed spool batch');
  const decipher = createDecipheriv('aes-256-gcm', key, b.subarray(1, 13));
  decipher.setAAD(AAD);
  decipher.setAuthTag(b.subarray(13, 29));
  return Buffer.concat([decipher.update(b.subarray(29)), decipher.final()]);
}

export class EncryptedChangeBuffer implements ChangeBuffer {
  constructor(
    private readonly inner: ChangeBuffer,
    private readonly key: Buffer,
  ) {}

  state(): ChangeBufferState {
    return this.inner.state();
  }

  /** Seals the body, then appends it: durable when the inner append resolves, as before. */
  append(
    body: Uint8Array,
    endsTransactionAt: bigint | null,
    schemaVersions?: readonly SchemaVersionRecord[],
    sourceState?: string,
    snapshots?: readonly SnapshotRecord[],
  ): Promise<number> {
    return this.inner.append(seal(this.key, body), endsTransactionAt, schemaVersions, sourceState, snapshots);
  }

  snapshotRecords(): SnapshotRecord[] {
    return this.inner.snapshotRecords();
  }

  putSnapshotRecord(record: SnapshotRecord): Promise<void> {
    return this.inner.putSnapshotRecord(record);
  }

  schemaVersion(tableKey: string): SchemaVersionRecord | undefined {
    return this.inner.schemaVersion(tableKey);
  }

  discardUncommitted(): Promise<void> {
    return this.inner.discardUncommitted();
  }

  read(from: number, maxBatches: number, maxBytes: number): SpooledBatch[] {
    return this.inner.read(from, maxBatches, maxBytes).map((b) => {
      const cut = withSequence(new Uint8Array(0), b.sequence).length; // the buffer's own `sequence` field, in clear
      try {
        return { sequence: b.sequence, bytes: Buffer.concat([b.bytes.subarray(0, cut), unseal(this.key, b.bytes.subarray(cut))]) };
      } catch (cause) {
        throw new AgentError('spool-corrupt', `spool batch ${b.sequence} cannot be decrypted: wrong spool.encryptionKey, a spool written without encryption, or a damaged file`, { cause });
      }
    });
  }

  waitFor(after: number, signal: AbortSignal): Promise<void> {
    return this.inner.waitFor(after, signal);
  }

  acknowledge(sequence: number): Promise<void> {
    return this.inner.acknowledge(sequence);
  }

  isFull(): boolean {
    return this.inner.isFull();
  }

  waitForRoom(signal: AbortSignal): Promise<void> {
    return this.inner.waitForRoom(signal);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.inner[Symbol.asyncDispose]();
  }
}
