/**
 * Byte-level pgoutput (protocol v1) fixtures for tests, in the style of
 * node-postgres' pg-protocol test buffers: a fluent writer of big-endian
 * fields, plus one helper per message type that lays the fields out exactly
 * as the "Logical Replication Message Formats" page of the PostgreSQL manual.
 */
import { TupleKind } from '../../agent/sources/postgres/protocol.js';
import type { TupleData } from '../../agent/sources/postgres/protocol.js';

const utf8 = new TextEncoder();

/** Microseconds between 1970-01-01 and 2000-01-01. */
export const PG_EPOCH_OFFSET_US = 946_684_800_000_000n;

export class ByteBuilder {
  private readonly parts: number[] = [];

  char(c: string): this {
    this.parts.push(c.charCodeAt(0));
    return this;
  }
  int8(n: number): this {
    this.parts.push(n & 0xff);
    return this;
  }
  int16(n: number): this {
    return this.int8(n >> 8).int8(n);
  }
  int32(n: number): this {
    return this.int8(n >>> 24).int8(n >>> 16).int8(n >>> 8).int8(n);
  }
  int64(n: bigint): this {
    const u = BigInt.asUintN(64, n);
    return this.int32(Number(u >> 32n)).int32(Number(u & 0xffffffffn));
  }
  cstring(s: string): this {
    return this.raw(utf8.encode(s)).int8(0);
  }
  raw(bytes: Uint8Array | readonly number[]): this {
    for (const b of bytes) this.parts.push(b);
    return this;
  }
  /** Appends another builder's bytes (e.g. a tuple). */
  append(other: ByteBuilder): this {
    return this.raw(other.build());
  }
  get length(): number {
    return this.parts.length;
  }
  build(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/** Column value in a fixture tuple: text, NULL, the unchanged-TOAST marker, or binary bytes. */
export type FixtureColumn = string | null | { readonly unchanged: true } | { readonly binary: Uint8Array };

export const UNCHANGED_TOAST = { unchanged: true } as const;

/** TupleData: Int16 count, then per column a kind byte and, for text/binary, Int32 length + bytes. */
export function tuple(columns: readonly FixtureColumn[]): ByteBuilder {
  const b = new ByteBuilder().int16(columns.length);
  for (const c of columns) {
    if (c === null) b.char('n');
    else if (typeof c === 'string') {
      const bytes = utf8.encode(c);
      b.char('t').int32(bytes.length).raw(bytes);
    } else if ('unchanged' in c) b.char('u');
    else b.char('b').int32(c.binary.length).raw(c.binary);
  }
  return b;
}

/** pgoutput timestamps count microseconds from 2000-01-01. */
function pgTime(unixMicros: bigint): bigint {
  return unixMicros - PG_EPOCH_OFFSET_US;
}

export interface FixtureRelationColumn {
  readonly name: string;
  readonly typeOid: number;
  readonly typeMod?: number;
  readonly key?: boolean;
}

export const pgoutput = {
  begin(finalLsn: bigint, commitTimeUs: bigint, xid: number): ByteBuilder {
    return new ByteBuilder().char('B').int64(finalLsn).int64(pgTime(commitTimeUs)).int32(xid);
  },
  commit(commitLsn: bigint, endLsn: bigint, commitTimeUs: bigint, flags = 0): ByteBuilder {
    return new ByteBuilder().char('C').int8(flags).int64(commitLsn).int64(endLsn).int64(pgTime(commitTimeUs));
  },
  origin(lsn: bigint, name: string): ByteBuilder {
    return new ByteBuilder().char('O').int64(lsn).cstring(name);
  },
  relation(
    relationId: number,
    namespace: string,
    name: string,
    replicaIdentity: string,
    columns: readonly FixtureRelationColumn[],
  ): ByteBuilder {
    const b = new ByteBuilder().char('R').int32(relationId).cstring(namespace).cstring(name).char(replicaIdentity);
    b.int16(columns.length);
    for (const c of columns) {
      b.int8(c.key === true ? 1 : 0).cstring(c.name).int32(c.typeOid).int32(c.typeMod ?? -1);
    }
    return b;
  },
  type(typeOid: number, namespace: string, name: string): ByteBuilder {
    return new ByteBuilder().char('Y').int32(typeOid).cstring(namespace).cstring(name);
  },
  insert(relationId: number, row: readonly FixtureColumn[]): ByteBuilder {
    return new ByteBuilder().char('I').int32(relationId).char('N').append(tuple(row));
  },
  update(
    relationId: number,
    row: readonly FixtureColumn[],
    old?: { readonly kind: 'K' | 'O'; readonly row: readonly FixtureColumn[] },
  ): ByteBuilder {
    const b = new ByteBuilder().char('U').int32(relationId);
    if (old !== undefined) b.char(old.kind).append(tuple(old.row));
    return b.char('N').append(tuple(row));
  },
  delete(relationId: number, kind: 'K' | 'O', row: readonly FixtureColumn[]): ByteBuilder {
    return new ByteBuilder().char('D').int32(relationId).char(kind).append(tuple(row));
  },
  truncate(relationIds: readonly number[], options: { cascade?: boolean; restartIdentity?: boolean } = {}): ByteBuilder {
    const flags = (options.cascade === true ? 1 : 0) | (options.restartIdentity === true ? 2 : 0);
    const b = new ByteBuilder().char('T').int32(relationIds.length).int8(flags);
    for (const id of relationIds) b.int32(id);
    return b;
  },
  message(transactional: boolean, lsn: bigint, prefix: string, content: Uint8Array): ByteBuilder {
    return new ByteBuilder()
      .char('M')
      .int8(transactional ? 1 : 0)
      .int64(lsn)
      .cstring(prefix)
      .int32(content.length)
      .raw(content);
  },
};

/** Reads a decoded TupleData back into fixture columns, for assertions. */
export function readTuple(t: TupleData): FixtureColumn[] {
  const out: FixtureColumn[] = [];
  const dec = new TextDecoder();
  let p = t.start;
  for (let i = 0; i < t.count; i++) {
    const kind = t.buf[p++];
    if (kind === TupleKind.Null) out.push(null);
    else if (kind === TupleKind.Unchanged) out.push(UNCHANGED_TOAST);
    else {
      const len = new DataView(t.buf.buffer, t.buf.byteOffset + p, 4).getInt32(0);
      p += 4;
      const bytes = t.buf.slice(p, p + len);
      p += len;
      out.push(kind === TupleKind.Text ? dec.decode(bytes) : { binary: bytes });
    }
  }
  if (p !== t.end) throw new Error(`tuple walk ended at ${p}, expected ${t.end}`);
  return out;
}
