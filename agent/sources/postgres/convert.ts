import { ValueKind } from '../../../proto/gen/tributary/v1/change_pb.js';
import type { RowWriter } from '../../../proto/tributary/v1/row-codec.js';
import { AgentError } from '../../errors.js';
import { writeArray } from './convert-array.js';
import { BinaryKind, writeBinaryValue } from './copy-binary.js';
import { writeScalar } from './convert-scalar.js';
import { ValueSyntaxError } from './convert-syntax.js';
import { TupleKind } from './protocol.js';
import type { RelationMessage, TupleData } from './protocol.js';
import type { PgTypeCatalog, ResolvedType } from './types.js';

/**
 * Session settings the replication connection must run with: the converters
 * parse exactly the text PostgreSQL's output functions print under them
 * (ISO dates, UTC instants, ISO 8601 intervals, shortest round-trip floats,
 * hex bytea). pgoutput's text tuples use the walsender session's settings,
 * so the stream passes these as startup options.
 */
export const REPLICATION_SESSION_SETTINGS: Record<string, string> = {
  DateStyle: 'ISO, MDY',
  TimeZone: 'UTC',
  IntervalStyle: 'iso_8601',
  extra_float_digits: '3',
  bytea_output: 'hex',
};

export interface ConvertColumn {
  readonly name: string;
  /** Replica-identity column (pgoutput's key flag). */
  readonly key: boolean;
  readonly resolved: ResolvedType;
}

const utf8Lenient = new TextDecoder('utf-8');

/**
 * Converts the text tuples of one relation into compact row images.
 * Built once per Relation message (a new one on every schema change);
 * holds no per-row state, so it may be reused for every tuple of that relation.
 */
export class RowConverter {
  private readonly kinds: Int32Array;
  private readonly elementKinds: Int32Array;
  private readonly delimiters: Int32Array;
  private readonly keys: Uint8Array;
  /** Every column read as text (writeSpans' plan by default). */
  private readonly allText: Int32Array;
  /** Number of key columns, the column count of `writeKey` rows. */
  readonly keyCount: number;

  constructor(
    /** `schema.table`, for error messages. */
    readonly table: string,
    readonly columns: readonly ConvertColumn[],
  ) {
    const n = columns.length;
    this.kinds = new Int32Array(n);
    this.elementKinds = new Int32Array(n);
    this.delimiters = new Int32Array(n);
    this.keys = new Uint8Array(n);
    this.allText = new Int32Array(n); // BinaryKind.Text is 0
    let keyCount = 0;
    columns.forEach((c, i) => {
      this.kinds[i] = c.resolved.kind;
      this.elementKinds[i] = c.resolved.elementKind;
      this.delimiters[i] = c.resolved.delimiter.charCodeAt(0);
      this.keys[i] = c.key ? 1 : 0;
      if (c.key) keyCount++;
    });
    this.keyCount = keyCount;
  }

  /**
   * Resolves every column of a Relation message through the catalog.
   * Throws AgentError('internal') when a column's type OID is not in the
   * catalog: the caller must reload the catalog (a type created after it was
   * loaded) before building the converter.
   */
  static forRelation(rel: RelationMessage, catalog: PgTypeCatalog): RowConverter {
    const table = `${rel.namespace === '' ? 'pg_catalog' : rel.namespace}.${rel.name}`;
    const columns = rel.columns.map((c): ConvertColumn => {
      const resolved = catalog.resolve(c.typeOid, c.typeMod);
      if (resolved === undefined) {
        throw new AgentError('internal', `${table}.${c.name}: type OID ${c.typeOid} is not in the type catalog; reload it`);
      }
      return { name: c.name, key: c.key, resolved };
    });
    return new RowConverter(table, columns);
  }

  /** Writes the whole tuple: `columns(n)`, then one value per column in relation order. */
  writeRow(tuple: TupleData, w: RowWriter): void {
    this.write(tuple, w, 'row');
  }

  /** Writes only the key columns, in relation column order. */
  writeKey(tuple: TupleData, w: RowWriter): void {
    this.write(tuple, w, 'key');
  }

  /**
   * A full-width row from an old-key tuple ('K'): the server sends only the
   * key columns, so the others are written as UNCHANGED (not sent), never as
   * NULL, which would claim a value the source did not state.
   */
  writeKeyImage(tuple: TupleData, w: RowWriter): void {
    this.write(tuple, w, 'keyImage');
  }

  private write(tuple: TupleData, w: RowWriter, mode: 'row' | 'key' | 'keyImage'): void {
    const keysOnly = mode === 'key';
    const n = this.kinds.length;
    if (tuple.count !== n) {
      throw new AgentError('protocol', `${this.table}: tuple has ${tuple.count} columns, relation has ${n}`);
    }
    w.columns(keysOnly ? this.keyCount : n);
    const buf = tuple.buf;
    let p = tuple.start;
    for (let i = 0; i < n; i++) {
      const kind = buf[p++];
      let len = 0;
      if (kind === TupleKind.Text || kind === TupleKind.Binary) {
        len = ((buf[p] as number) << 24) | ((buf[p + 1] as number) << 16) | ((buf[p + 2] as number) << 8) | (buf[p + 3] as number);
        p += 4;
      }
      if (mode === 'keyImage' && this.keys[i] !== 1) w.unchanged();
      else if (!keysOnly || this.keys[i] === 1) {
        if (kind === TupleKind.Text) this.value(i, buf, p, p + len, w);
        else if (kind === TupleKind.Null) w.null();
        else if (kind === TupleKind.Unchanged) w.unchanged();
        else throw this.error(i, buf, p, p + len, 'binary tuple data was not requested');
      }
      p += len;
    }
  }

  /**
   * Writes a row (or only its key columns) whose values are spans of `buf`:
   * column i is `buf[spans[2i], spans[2i + 1])`, NULL when `spans[2i]` is -1,
   * read as `plan[i]` (copy-binary.ts) — text, converted exactly as the
   * stream's text, or a binary value. Without a plan every column is text
   * (a COPY text line without escapes, copy-out.ts).
   */
  writeSpans(buf: Uint8Array, spans: Int32Array, w: RowWriter, keysOnly: boolean, plan: Int32Array = this.allText): void {
    const n = this.kinds.length;
    w.columns(keysOnly ? this.keyCount : n);
    for (let i = 0; i < n; i++) {
      if (keysOnly && this.keys[i] !== 1) continue;
      const start = spans[2 * i] as number;
      if (start < 0) {
        w.null();
        continue;
      }
      const end = spans[2 * i + 1] as number;
      const kind = plan[i] as BinaryKind;
      if (kind === BinaryKind.Text) this.value(i, buf, start, end, w);
      else {
        try {
          writeBinaryValue(kind, buf, start, end, w);
        } catch (cause) {
          if (cause instanceof ValueSyntaxError || cause instanceof RangeError) throw this.error(i, buf, start, end, cause.message, cause);
          throw cause;
        }
      }
    }
  }

  private value(i: number, buf: Uint8Array, start: number, end: number, w: RowWriter): void {
    try {
      const kind = this.kinds[i] as ValueKind;
      if (kind === ValueKind.ARRAY) {
        writeArray(buf, start, end, this.elementKinds[i] as ValueKind, this.delimiters[i] as number, w);
      } else {
        writeScalar(kind, buf, start, end, w);
      }
    } catch (cause) {
      if (cause instanceof ValueSyntaxError || cause instanceof RangeError) throw this.error(i, buf, start, end, cause.message, cause);
      throw cause;
    }
  }

  private error(i: number, buf: Uint8Array, start: number, end: number, reason: string, cause?: unknown): AgentError {
    const col = this.columns[i];
    let text = utf8Lenient.decode(buf.subarray(start, Math.min(end, start + 320)));
    if (text.length > 80) text = `${text.slice(0, 80)}…`;
    const where = `${this.table}.${col?.name ?? `#${i}`} (${col?.resolved.sourceType ?? 'unknown type'})`;
    return new AgentError('protocol', `${where}: cannot convert ${JSON.stringify(text)}: ${reason}`, { cause });
  }
}
