/**
 * `COPY (SELECT ...) TO STDOUT` in text format over an ordinary node-pg
 * client, row by row, as pgoutput-style text tuples. COPY's text output and
 * pgoutput's text tuples both come from each type's output function under the
 * session's settings, so a row read here converts through the same
 * RowConverter to exactly the bytes the stream produces for that row. COPY
 * rather than a SELECT through the driver: no per-value JS string on the way,
 * and the server's fastest output path.
 *
 * Text format (PostgreSQL manual, COPY, "Text Format"): one line per row,
 * columns separated by TAB, NULL as `\N`; COPY TO escapes backslash, TAB and
 * newline-class characters with a backslash (`\\`, `\t`, `\n`, `\r`, `\b`,
 * `\f`, `\v`) and writes every other byte as is.
 */
import { AgentError } from '../../errors.js';
import { TupleKind, type TupleData } from './protocol.js';

const TAB = 0x09;
const NL = 0x0a;
const BACKSLASH = 0x5c;
const ESCAPES: Record<number, number> = { 0x62: 0x08, 0x66: 0x0c, 0x6e: 0x0a, 0x72: 0x0d, 0x74: 0x09, 0x76: 0x0b };

/**
 * Rewrites one COPY text line (without its newline) as TupleData with `count`
 * columns into `out` (grown as needed); returns the tuple and the buffer used.
 */
export function copyLineToTuple(line: Uint8Array, count: number, out: Uint8Array): { tuple: TupleData; buf: Uint8Array } {
  // Worst case: every column adds a 5-byte header; escapes only shrink.
  if (out.length < line.length + count * 5) out = new Uint8Array((line.length + count * 5) * 2);
  let o = 0;
  let p = 0;
  let columns = 0;
  while (columns < count) {
    if (p > line.length) throw new AgentError('protocol', `COPY text row has ${columns} columns, expected ${count}`);
    if (line[p] === BACKSLASH && line[p + 1] === 0x4e && (p + 2 === line.length || line[p + 2] === TAB)) {
      out[o++] = TupleKind.Null;
      p += 3;
      columns++;
      continue;
    }
    out[o] = TupleKind.Text;
    const lenAt = o + 1;
    o += 5;
    const start = o;
    while (p < line.length && line[p] !== TAB) {
      const c = line[p++] as number;
      if (c !== BACKSLASH) {
        out[o++] = c;
        continue;
      }
      const e = line[p++];
      if (e === undefined) throw new AgentError('protocol', 'COPY text row ends inside an escape');
      out[o++] = ESCAPES[e] ?? e;
    }
    const len = o - start;
    out[lenAt] = len >>> 24;
    out[lenAt + 1] = (len >>> 16) & 0xff;
    out[lenAt + 2] = (len >>> 8) & 0xff;
    out[lenAt + 3] = len & 0xff;
    columns++;
    p++; // the TAB (or one past the end)
  }
  if (p <= line.length) throw new AgentError('protocol', `COPY text row has more than ${count} columns`);
  return { tuple: { buf: out, start: 0, end: o, count }, buf: out };
}

/**
 * The column spans of a COPY text line `buf[start, end)` with no escaped
 * value (the common case): `spans[2i]`/`spans[2i + 1]` are column i's start
 * and end in `buf`, start -1 for NULL (`\N`). Returns false when some value
 * holds an escape (copyLineToTuple then unescapes the line), and throws on a
 * wrong column count.
 */
export function copyLineSpans(buf: Uint8Array, start: number, end: number, count: number, spans: Int32Array): boolean {
  let bs = buf.indexOf(BACKSLASH, start);
  if (bs >= end) bs = -1;
  let p = start;
  for (let i = 0; i < count; i++) {
    if (p > end) throw new AgentError('protocol', `COPY text row has ${i} columns, expected ${count}`);
    let stop = buf.indexOf(TAB, p);
    if (stop < 0 || stop > end) stop = end;
    if (bs >= 0 && bs < stop) {
      // Only a NULL may hold a backslash here: `\N` alone.
      if (bs !== p || stop - p !== 2 || buf[p + 1] !== 0x4e) return false;
      spans[2 * i] = -1;
      bs = buf.indexOf(BACKSLASH, stop);
      if (bs >= end) bs = -1;
    } else {
      spans[2 * i] = p;
      spans[2 * i + 1] = stop;
    }
    p = stop + 1;
  }
  if (p <= end) throw new AgentError('protocol', `COPY text row has more than ${count} columns`);
  return true;
}

interface CopyConnection {
  query(text: string): void;
}

/**
 * A node-pg submittable running one COPY ... TO STDOUT. The server's data
 * arrives in CopyData messages whose boundaries need not match rows: a
 * subclass consumes whole rows from the front of what it is given and
 * returns how many bytes it used; the rest waits for the next message.
 * `done` resolves with the number of rows, or rejects with the server's
 * error (SQLSTATE kept on `code`) or the first error a row raised.
 */
export abstract class CopyToStdout {
  readonly done: Promise<number>;
  private resolve!: (rows: number) => void;
  private reject!: (e: unknown) => void;
  protected rows = 0;
  private rest: Buffer | null = null;
  private failed: unknown = null;

  constructor(private readonly text: string) {
    this.done = new Promise<number>((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
  }

  /** Reads every whole row at the front of `data`; returns the bytes used. */
  protected abstract consume(data: Buffer): number;

  /** Why the output is incomplete when the server says it ended (null: it is complete). */
  protected abstract unfinished(rest: Buffer | null): string | null;

  submit(connection: CopyConnection): void {
    connection.query(this.text);
  }

  handleCopyData(msg: { chunk: Buffer }): void {
    if (this.failed !== null) return;
    let data = msg.chunk;
    if (this.rest !== null) {
      data = Buffer.concat([this.rest, data]);
      this.rest = null;
    }
    try {
      const used = this.consume(data);
      // A copy: the driver reuses its buffers.
      if (used < data.length) this.rest = Buffer.from(data.subarray(used));
    } catch (cause) {
      this.failed = cause;
    }
  }

  handleCommandComplete(): void {}
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}

  handleCopyInResponse(connection: { sendCopyFail(msg: string): void }): void {
    connection.sendCopyFail('COPY FROM is not expected here');
  }

  handleReadyForQuery(): void {
    const unfinished = this.failed === null ? this.unfinished(this.rest) : null;
    if (this.failed !== null) this.reject(this.failed);
    else if (unfinished !== null) this.reject(new AgentError('protocol', unfinished));
    else this.resolve(this.rows);
  }

  handleError(err: unknown): void {
    this.reject(err);
  }
}

/** COPY's text format: `onLine` receives each row as `data[start, end)` (valid only during the call). */
export class CopyOut extends CopyToStdout {
  constructor(
    text: string,
    private readonly onLine: (data: Buffer, start: number, end: number) => void,
  ) {
    super(text);
  }

  protected consume(data: Buffer): number {
    let start = 0;
    for (let nl = data.indexOf(NL, start); nl >= 0; nl = data.indexOf(NL, start)) {
      this.onLine(data, start, nl);
      this.rows++;
      start = nl + 1;
    }
    return start;
  }

  protected unfinished(rest: Buffer | null): string | null {
    return rest === null ? null : 'COPY output ended inside a row';
  }
}
