/**
 * Shared pieces of the text-value parsers: the error they throw and byte helpers.
 * Parsers work on `buf[start, end)` of the tuple's own buffer so that no string
 * is built unless a value needs one (numbers for Number/BigInt, decimals).
 */

/**
 * A value PostgreSQL sent that does not parse as its type's text output.
 * Thrown without context; RowConverter adds table, column and the text.
 */
export class ValueSyntaxError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'ValueSyntaxError';
  }
}

export const CH_0 = 0x30;
export const CH_9 = 0x39;
export const CH_MINUS = 0x2d;
export const CH_PLUS = 0x2b;
export const CH_DOT = 0x2e;
export const CH_COLON = 0x3a;
export const CH_SPACE = 0x20;

/** Builds a string from ASCII bytes; short values (the common case) avoid any intermediate object. */
export function asciiString(buf: Uint8Array, start: number, end: number): string {
  if (end - start <= 24) {
    let s = '';
    for (let i = start; i < end; i++) s += String.fromCharCode(buf[i] as number);
    return s;
  }
  return Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('latin1');
}

/** True when buf[start, end) equals the ASCII string `word`. */
export function bytesEqual(buf: Uint8Array, start: number, end: number, word: string): boolean {
  if (end - start !== word.length) return false;
  for (let i = 0; i < word.length; i++) {
    if (buf[start + i] !== word.charCodeAt(i)) return false;
  }
  return true;
}

/** Reads exactly `n` decimal digits at `pos`; -1 if any is missing or not a digit. */
export function fixedDigits(buf: Uint8Array, pos: number, end: number, n: number): number {
  if (pos + n > end) return -1;
  let v = 0;
  for (let i = pos; i < pos + n; i++) {
    const d = (buf[i] as number) - CH_0;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/** Lookup from an ASCII byte to its hex value, -1 for non-hex bytes. */
export const HEX: Int8Array = (() => {
  const t = new Int8Array(256).fill(-1);
  for (let i = 0; i < 10; i++) t[CH_0 + i] = i;
  for (let i = 0; i < 6; i++) {
    t[0x41 + i] = 10 + i;
    t[0x61 + i] = 10 + i;
  }
  return t;
})();
