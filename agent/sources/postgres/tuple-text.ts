/** Reading column text back out of a pgoutput text tuple (watermark ids, chunk keys): off the hot path. */
import { AgentError } from '../../errors.js';
import { TupleKind, type TupleData } from './protocol.js';

const utf8 = new TextDecoder();

/** The text of some columns of a text tuple (the chunk's last key). */
export function tupleTexts(t: TupleData, indexes: readonly number[]): string[] {
  const texts: (string | null)[] = [];
  let p = t.start;
  for (let i = 0; i < t.count; i++) {
    const kind = t.buf[p++];
    let len = 0;
    if (kind === TupleKind.Text) {
      len = ((t.buf[p] as number) << 24) | ((t.buf[p + 1] as number) << 16) | ((t.buf[p + 2] as number) << 8) | (t.buf[p + 3] as number);
      p += 4;
      texts.push(utf8.decode(t.buf.subarray(p, p + len)));
    } else texts.push(null);
    p += len;
  }
  return indexes.map((i) => {
    const v = texts[i];
    if (v === null || v === undefined) throw new AgentError('protocol', 'a chunk key column is NULL');
    return v;
  });
}
