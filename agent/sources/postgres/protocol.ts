import { AgentError } from '../../errors.js';
import type { Lsn } from './position.js';

/**
 * pgoutput messages, logical replication protocol version 1 (text-format tuples),
 * as documented in "Logical Replication Message Formats" of the PostgreSQL manual,
 * plus the 'M' logical decoding message sent when the `messages 'true'` option is on.
 *
 * Decoding is pure and allocation-light: tuples stay in the input buffer as a
 * `TupleData` view that the converter walks. Messages therefore reference the
 * input buffer; callers must not overwrite it while a message is in use.
 */

/** Column kinds inside TupleData ('n', 'u', 't', 'b' as bytes). */
export const TupleKind = { Null: 0x6e, Unchanged: 0x75, Text: 0x74, Binary: 0x62 } as const;

/**
 * A tuple left in place: `count` columns starting at `start` (just after the
 * Int16 column count), ending at `end`. Each column is one kind byte, and for
 * 't'/'b' an Int32 length plus that many bytes. Validated when decoded, so a
 * walker that follows the lengths stays inside [start, end).
 */
export interface TupleData {
  readonly buf: Uint8Array;
  readonly start: number;
  readonly end: number;
  readonly count: number;
}

export interface RelationColumn {
  /** Part of the replica identity (flags & 1): the primary key, the identity index, or every column under REPLICA IDENTITY FULL. */
  readonly key: boolean;
  readonly name: string;
  readonly typeOid: number;
  readonly typeMod: number;
}

export interface BeginMessage {
  readonly tag: 'begin';
  readonly finalLsn: Lsn;
  /** Microseconds since the Unix epoch (pgoutput counts from 2000-01-01). */
  readonly commitTimeUs: number;
  readonly xid: number;
}
export interface CommitMessage {
  readonly tag: 'commit';
  readonly flags: number;
  readonly commitLsn: Lsn;
  /** The end of the commit record: the position to confirm once the transaction is durable. */
  readonly endLsn: Lsn;
  readonly commitTimeUs: number;
}
export interface RelationMessage {
  readonly tag: 'relation';
  readonly relationId: number;
  /** Empty string for pg_catalog, as pgoutput sends it. */
  readonly namespace: string;
  readonly name: string;
  /** 'd' default, 'n' nothing, 'f' full, 'i' index. */
  readonly replicaIdentity: string;
  readonly columns: readonly RelationColumn[];
}
export interface TypeMessage {
  readonly tag: 'type';
  readonly typeOid: number;
  readonly namespace: string;
  readonly name: string;
}
export interface OriginMessage {
  readonly tag: 'origin';
  readonly lsn: Lsn;
  readonly name: string;
}
export interface InsertMessage {
  readonly tag: 'insert';
  readonly relationId: number;
  readonly newTuple: TupleData;
}
export interface UpdateMessage {
  readonly tag: 'update';
  readonly relationId: number;
  /** 'K' old key (key changed), 'O' old row (REPLICA IDENTITY FULL), null when not sent. */
  readonly oldKind: 'K' | 'O' | null;
  readonly oldTuple: TupleData | null;
  readonly newTuple: TupleData;
}
export interface DeleteMessage {
  readonly tag: 'delete';
  readonly relationId: number;
  readonly oldKind: 'K' | 'O';
  readonly oldTuple: TupleData;
}
export interface TruncateMessage {
  readonly tag: 'truncate';
  readonly cascade: boolean;
  readonly restartIdentity: boolean;
  readonly relationIds: readonly number[];
}
export interface LogicalMessage {
  readonly tag: 'message';
  readonly transactional: boolean;
  readonly lsn: Lsn;
  readonly prefix: string;
  /** A view into the input buffer. */
  readonly content: Uint8Array;
}

export type PgOutputMessage =
  | BeginMessage
  | CommitMessage
  | RelationMessage
  | TypeMessage
  | OriginMessage
  | InsertMessage
  | UpdateMessage
  | DeleteMessage
  | TruncateMessage
  | LogicalMessage;

/** Microseconds from 1970-01-01 to 2000-01-01, PostgreSQL's timestamp epoch. */
const PG_EPOCH_OFFSET_US = 946_684_800_000_000;

const NAMES: Record<number, string> = {
  0x42: 'Begin', 0x43: 'Commit', 0x52: 'Relation', 0x59: 'Type', 0x4f: 'Origin',
  0x49: 'Insert', 0x55: 'Update', 0x44: 'Delete', 0x54: 'Truncate', 0x4d: 'Message',
};

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes one pgoutput message: the XLogData payload after its 25-byte header.
 * Throws AgentError('protocol') naming the message type and byte offset on an
 * unknown type, truncated or trailing bytes, or an unexpected marker; never
 * reads outside `bytes`.
 */
export function decodePgOutput(bytes: Uint8Array): PgOutputMessage {
  if (bytes.length === 0) throw new AgentError('protocol', 'pgoutput: empty message at byte 0');
  const type = bytes[0] as number;
  const name = NAMES[type];
  if (name === undefined) {
    throw new AgentError('protocol', `pgoutput: unknown message type 0x${type.toString(16).padStart(2, '0')} at byte 0`);
  }
  const r = new Reader(bytes, name);
  const msg = decodeBody(type, r);
  if (r.pos !== bytes.length) r.fail(`${bytes.length - r.pos} trailing bytes`);
  return msg;
}

function decodeBody(type: number, r: Reader): PgOutputMessage {
  switch (type) {
    case 0x42:
      return { tag: 'begin', finalLsn: r.u64(), commitTimeUs: r.timestamp(), xid: r.u32() };
    case 0x43:
      return { tag: 'commit', flags: r.u8(), commitLsn: r.u64(), endLsn: r.u64(), commitTimeUs: r.timestamp() };
    case 0x52:
      return relation(r);
    case 0x59:
      return { tag: 'type', typeOid: r.u32(), namespace: r.cstring(), name: r.cstring() };
    case 0x4f:
      return { tag: 'origin', lsn: r.u64(), name: r.cstring() };
    case 0x49: {
      const relationId = r.u32();
      r.expect(0x4e, "'N'");
      return { tag: 'insert', relationId, newTuple: r.tuple() };
    }
    case 0x55:
      return update(r);
    case 0x44: {
      const relationId = r.u32();
      const marker = r.u8();
      if (marker !== 0x4b && marker !== 0x4f) r.fail(`expected 'K' or 'O', got 0x${marker.toString(16)}`, r.pos - 1);
      return { tag: 'delete', relationId, oldKind: marker === 0x4b ? 'K' : 'O', oldTuple: r.tuple() };
    }
    case 0x54:
      return truncate(r);
    default: {
      const flags = r.u8();
      const lsn = r.u64();
      const prefix = r.cstring();
      const len = r.u32();
      return { tag: 'message', transactional: (flags & 1) !== 0, lsn, prefix, content: r.bytes(len) };
    }
  }
}

function relation(r: Reader): RelationMessage {
  const relationId = r.u32();
  const namespace = r.cstring();
  const name = r.cstring();
  const replicaIdentity = String.fromCharCode(r.u8());
  const n = r.u16();
  const columns: RelationColumn[] = [];
  for (let i = 0; i < n; i++) {
    const flags = r.u8();
    columns.push({ key: (flags & 1) !== 0, name: r.cstring(), typeOid: r.u32(), typeMod: r.i32() });
  }
  return { tag: 'relation', relationId, namespace, name, replicaIdentity, columns };
}

function update(r: Reader): UpdateMessage {
  const relationId = r.u32();
  let marker = r.u8();
  let oldKind: 'K' | 'O' | null = null;
  let oldTuple: TupleData | null = null;
  if (marker === 0x4b || marker === 0x4f) {
    oldKind = marker === 0x4b ? 'K' : 'O';
    oldTuple = r.tuple();
    marker = r.u8();
  }
  if (marker !== 0x4e) r.fail(`expected 'N', got 0x${marker.toString(16)}`, r.pos - 1);
  return { tag: 'update', relationId, oldKind, oldTuple, newTuple: r.tuple() };
}

function truncate(r: Reader): TruncateMessage {
  const n = r.u32();
  const options = r.u8();
  // Each id is 4 bytes: refuse a count the message cannot hold before allocating for it.
  if (n * 4 > r.remaining()) r.fail(`${n} relation ids need ${n * 4} bytes`);
  const relationIds: number[] = [];
  for (let i = 0; i < n; i++) relationIds.push(r.u32());
  return { tag: 'truncate', cascade: (options & 1) !== 0, restartIdentity: (options & 2) !== 0, relationIds };
}

/** Big-endian reads with bounds checks; every failure names the message and offset. */
class Reader {
  pos = 1;
  constructor(
    private readonly buf: Uint8Array,
    private readonly name: string,
  ) {}

  fail(what: string, at = this.pos): never {
    throw new AgentError('protocol', `pgoutput ${this.name} message: ${what} at byte ${at}`);
  }

  remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) {
      this.fail(`truncated (needs ${n} bytes, ${this.buf.length - this.pos} left)`);
    }
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++] as number;
  }

  expect(byte: number, label: string): void {
    const b = this.u8();
    if (b !== byte) this.fail(`expected ${label}, got 0x${b.toString(16)}`, this.pos - 1);
  }

  u16(): number {
    this.need(2);
    const b = this.buf;
    const p = this.pos;
    this.pos += 2;
    return ((b[p] as number) << 8) | (b[p + 1] as number);
  }

  i32(): number {
    this.need(4);
    const b = this.buf;
    const p = this.pos;
    this.pos += 4;
    return ((b[p] as number) << 24) | ((b[p + 1] as number) << 16) | ((b[p + 2] as number) << 8) | (b[p + 3] as number);
  }

  u32(): number {
    return this.i32() >>> 0;
  }

  u64(): bigint {
    const hi = this.u32();
    const lo = this.u32();
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  /** A pgoutput timestamp (int64 µs since 2000-01-01) as µs since 1970; exact for any real commit time. */
  timestamp(): number {
    const hi = this.i32();
    const lo = this.u32();
    return hi * 0x1_0000_0000 + lo + PG_EPOCH_OFFSET_US;
  }

  cstring(): string {
    const start = this.pos;
    const end = this.buf.indexOf(0, start);
    if (end < 0) this.fail('unterminated string', start);
    this.pos = end + 1;
    try {
      return utf8.decode(this.buf.subarray(start, end));
    } catch (cause) {
      throw new AgentError('protocol', `pgoutput ${this.name} message: invalid UTF-8 string at byte ${start}`, { cause });
    }
  }

  bytes(n: number): Uint8Array {
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Validates one TupleData and returns a view of it, leaving `pos` just after it. */
  tuple(): TupleData {
    const count = this.u16();
    const start = this.pos;
    for (let i = 0; i < count; i++) {
      const kind = this.u8();
      if (kind === TupleKind.Text || kind === TupleKind.Binary) {
        const len = this.i32();
        if (len < 0) this.fail(`column ${i} has negative length ${len}`, this.pos - 4);
        this.need(len);
        this.pos += len;
      } else if (kind !== TupleKind.Null && kind !== TupleKind.Unchanged) {
        this.fail(`column ${i} has unknown kind 0x${kind.toString(16)}`, this.pos - 1);
      }
    }
    return { buf: this.buf, start, end: this.pos, count };
  }
}
