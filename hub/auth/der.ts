/**
 * A minimal DER encoder: just the ASN.1 types an X.509 v3 certificate needs.
 * Node can parse and verify certificates (crypto.X509Certificate) but cannot
 * create them; this encoder plus crypto.sign fills that gap without a
 * dependency. Encoding only: nothing here parses untrusted input.
 */

export type Der = Uint8Array;

function length(n: number): number[] {
  if (n < 0x80) return [n];
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return [0x80 | bytes.length, ...bytes];
}

/** One tag-length-value element; `tag` is the full identifier octet. */
export function tlv(tag: number, ...content: readonly Der[]): Der {
  const size = content.reduce((n, c) => n + c.length, 0);
  const head = [tag, ...length(size)];
  const out = new Uint8Array(head.length + size);
  out.set(head, 0);
  let at = head.length;
  for (const c of content) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

export const sequence = (...items: readonly Der[]): Der => tlv(0x30, ...items);
export const set = (...items: readonly Der[]): Der => tlv(0x31, ...items);
export const nullValue = (): Der => Uint8Array.of(0x05, 0x00);
export const boolean = (v: boolean): Der => Uint8Array.of(0x01, 0x01, v ? 0xff : 0x00);
export const octetString = (bytes: Uint8Array): Der => tlv(0x04, bytes);
export const utf8String = (s: string): Der => tlv(0x0c, new TextEncoder().encode(s));
/** Context-specific constructed tag [n] (EXPLICIT wrapping). */
export const explicit = (n: number, inner: Der): Der => tlv(0xa0 | n, inner);
/** Context-specific primitive tag [n] (IMPLICIT, primitive contents). */
export const implicitPrimitive = (n: number, bytes: Uint8Array): Der => tlv(0x80 | n, bytes);

/** A non-negative INTEGER in minimal two's-complement form. */
export function integer(value: bigint | Uint8Array): Der {
  let bytes: number[];
  if (typeof value === 'bigint') {
    if (value < 0n) throw new RangeError('negative INTEGER is not supported');
    bytes = [];
    for (let v = value; v > 0n; v >>= 8n) bytes.unshift(Number(v & 0xffn));
    if (bytes.length === 0) bytes = [0];
  } else {
    bytes = [...value];
    while (bytes.length > 1 && bytes[0] === 0) bytes.shift();
    if (bytes.length === 0) bytes = [0];
  }
  if ((bytes[0] ?? 0) & 0x80) bytes.unshift(0);
  return tlv(0x02, Uint8Array.from(bytes));
}

/** BIT STRING with whole bytes (`unused` trailing bits in the last byte). */
export function bitString(bytes: Uint8Array, unused = 0): Der {
  const body = new Uint8Array(bytes.length + 1);
  body[0] = unused;
  body.set(bytes, 1);
  return tlv(0x03, body);
}

export function oid(dotted: string): Der {
  const parts = dotted.split('.').map((p) => {
    if (!/^\d+$/.test(p)) throw new RangeError(`bad OID ${dotted}`);
    return BigInt(p);
  });
  const [a, b, ...rest] = parts;
  if (a === undefined || b === undefined) throw new RangeError(`bad OID ${dotted}`);
  const out: number[] = [];
  for (const arc of [a * 40n + b, ...rest]) {
    const group: number[] = [Number(arc & 0x7fn)];
    for (let v = arc >> 7n; v > 0n; v >>= 7n) group.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...group);
  }
  return tlv(0x06, Uint8Array.from(out));
}

/** RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050. */
export function time(d: Date): Der {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '');
  const year = d.getUTCFullYear();
  if (year >= 1950 && year < 2050) return tlv(0x17, new TextEncoder().encode(`${digits.slice(2)}Z`));
  return tlv(0x18, new TextEncoder().encode(`${digits}Z`));
}

/** Start and end of each element of a constructed element's contents (trusted input only). */
function children(der: Uint8Array, start: number, end: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let at = start;
  while (at < end) {
    let len = der[at + 1] ?? 0;
    let head = 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + (der[at + 2 + i] ?? 0);
      head += n;
    }
    out.push([at, at + head + len]);
    at += head + len;
  }
  return out;
}

function contents(der: Uint8Array, [start, end]: [number, number]): [number, number] {
  const first = der[start + 1] ?? 0;
  const head = first & 0x80 ? 2 + (first & 0x7f) : 2;
  return [start + head, end];
}

/**
 * The subject Name of a certificate, as its exact DER bytes: an issued
 * certificate's issuer must equal its CA's subject, byte for byte, even
 * for a supplied CA whose name uses string types this encoder never writes.
 */
export function certificateSubject(certDer: Uint8Array): Der {
  const [cert] = children(certDer, 0, certDer.length);
  if (cert === undefined) throw new RangeError('empty certificate');
  const [tbs] = children(certDer, ...contents(certDer, cert));
  if (tbs === undefined) throw new RangeError('certificate without TBSCertificate');
  const fields = children(certDer, ...contents(certDer, tbs));
  // version [0] is optional; subject follows serial, signature, issuer, validity.
  const offset = certDer[fields[0]?.[0] ?? 0] === 0xa0 ? 1 : 0;
  const subject = fields[offset + 4];
  if (subject === undefined) throw new RangeError('certificate without subject');
  return certDer.slice(subject[0], subject[1]);
}
