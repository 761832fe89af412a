/**
 * Positions in a MySQL/MariaDB binlog.
 *
 * Two kinds, for two purposes:
 *
 * - `commitPosition(file, endPos)`: the uint64 every ChangeEvent carries as
 *   commit_position, so sinks can order rows by (commit_position,
 *   index_in_tx). It is `binlog file number × 2^32 + end position of the
 *   transaction's commit event` (Xid, or the Query event that commits). The
 *   server writes transactions into its binlog in commit order, numbers
 *   binlog files in increasing sequence (`binlog.000042`) and never lets one
 *   file pass 4 GiB (max_binlog_size ≤ 1 GiB; a transaction larger than that
 *   still ends below 2^32 only if it fits, which MySQL guarantees by
 *   refusing events over 4 GiB), so the value increases with commit order on
 *   one server.
 * - `ResumePosition`: where to resume reading. A MariaDB GTID position
 *   (one `domain-server-seq` per replication domain) or a MySQL GTID set
 *   (`uuid:1-5,...`), typed, plus the binlog file/position as the fallback for
 *   servers without GTIDs. It is stored in the spool atomically with the
 *   transaction's events (see ChangeBuffer.append's sourceState).
 */
import { AgentError } from '../../errors.js';

export interface MariaDbGtid {
  readonly domain: number;
  readonly server: number;
  readonly seq: bigint;
}

/** One source UUID (and MySQL 8.3+ tag) with its executed intervals, inclusive. */
export interface MySqlGtidInterval {
  readonly uuid: string;
  readonly tag: string;
  readonly ranges: readonly (readonly [bigint, bigint])[];
}

export type GtidPosition =
  | { readonly flavor: 'mariadb'; readonly domains: readonly MariaDbGtid[] }
  | { readonly flavor: 'mysql'; readonly sets: readonly MySqlGtidInterval[] };

export interface ResumePosition {
  readonly gtid: GtidPosition | null;
  readonly file: string;
  /** Byte offset in `file` just after the last spooled transaction's commit event. */
  readonly pos: number;
}

const FILE_NUMBER = /\.(\d{1,10})$/;

/** The numeric suffix of a binlog file name (`binlog.000042` → 42). */
export function binlogFileNumber(file: string): number {
  const m = FILE_NUMBER.exec(file);
  const n = m === null ? NaN : Number(m[1]);
  if (!Number.isSafeInteger(n) || n > 0xffffffff) throw new AgentError('protocol', `binlog file name ${JSON.stringify(file)} has no numeric suffix`);
  return n;
}

export function commitPosition(file: string, endPos: number): bigint {
  if (!Number.isInteger(endPos) || endPos < 0 || endPos > 0xffffffff) throw new AgentError('protocol', `binlog position ${endPos} is out of range`);
  return (BigInt(binlogFileNumber(file)) << 32n) | BigInt(endPos);
}

/** `file:pos` for logs, from a commit position (the file's prefix is not kept). */
export function formatCommitPosition(p: bigint): string {
  return `${p >> 32n}:${p & 0xffffffffn}`;
}

export function parseMariaDbGtids(text: string): GtidPosition {
  const domains: MariaDbGtid[] = [];
  for (const part of text.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const m = /^(\d{1,10})-(\d{1,10})-(\d{1,20})$/.exec(part);
    if (m === null) throw new AgentError('protocol', `malformed MariaDB GTID ${JSON.stringify(part)}: expected domain-server-sequence`);
    domains.push({ domain: Number(m[1]), server: Number(m[2]), seq: BigInt(m[3]!) });
  }
  return { flavor: 'mariadb', domains: domains.sort((a, b) => a.domain - b.domain) };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A MySQL GTID set `uuid:1-5:7,uuid2[:tag]:1-3`. */
export function parseMySqlGtidSet(text: string): GtidPosition {
  const sets: MySqlGtidInterval[] = [];
  for (const part of text.replace(/\s/g, '').split(',').filter((s) => s !== '')) {
    const [uuid = '', ...rest] = part.split(':');
    if (!UUID.test(uuid)) throw new AgentError('protocol', `malformed MySQL GTID set entry ${JSON.stringify(part)}`);
    let tag = '';
    const ranges: [bigint, bigint][] = [];
    for (const r of rest) {
      const m = /^(\d+)(?:-(\d+))?$/.exec(r);
      if (m === null) {
        if (!/^[a-z_][a-z0-9_]{0,31}$/i.test(r)) throw new AgentError('protocol', `malformed MySQL GTID interval ${JSON.stringify(r)}`);
        if (ranges.length > 0 || tag !== '') sets.push({ uuid: uuid.toLowerCase(), tag, ranges: ranges.splice(0) });
        tag = r;
        continue;
      }
      const lo = BigInt(m[1]!);
      ranges.push([lo, m[2] === undefined ? lo : BigInt(m[2])]);
    }
    sets.push({ uuid: uuid.toLowerCase(), tag, ranges });
  }
  return { flavor: 'mysql', sets };
}

export function formatGtid(g: GtidPosition): string {
  if (g.flavor === 'mariadb') return g.domains.map((d) => `${d.domain}-${d.server}-${d.seq}`).join(',');
  return g.sets
    .map((s) => `${s.uuid}${s.tag === '' ? '' : `:${s.tag}`}${s.ranges.map(([a, b]) => (a === b ? `:${a}` : `:${a}-${b}`)).join('')}`)
    .join(',');
}

/** MariaDB: the position after committing `gtid` (the domain's entry is replaced). */
export function advanceMariaDb(pos: GtidPosition | null, gtid: MariaDbGtid): GtidPosition {
  const domains = pos?.flavor === 'mariadb' ? pos.domains.filter((d) => d.domain !== gtid.domain) : [];
  domains.push(gtid);
  return { flavor: 'mariadb', domains: domains.sort((a, b) => a.domain - b.domain) };
}

/** The spool's stored form (sourceState): JSON with bigints as decimal strings. */
export function encodeResume(p: ResumePosition): string {
  return JSON.stringify({ v: 1, gtid: p.gtid === null ? null : { flavor: p.gtid.flavor, text: formatGtid(p.gtid) }, file: p.file, pos: p.pos });
}

export function decodeResume(text: string): ResumePosition {
  let o: { v?: unknown; gtid?: { flavor?: unknown; text?: unknown } | null; file?: unknown; pos?: unknown };
  try {
    o = JSON.parse(text) as typeof o;
  } catch (cause) {
    throw new AgentError('spool-corrupt', 'the spool holds an unreadable MySQL resume position', { cause });
  }
  if (o.v !== 1 || typeof o.file !== 'string' || typeof o.pos !== 'number')
    throw new AgentError('spool-corrupt', `the spool holds an unknown MySQL resume position: ${text.slice(0, 200)}`);
  let gtid: GtidPosition | null = null;
  if (o.gtid != null) {
    if (typeof o.gtid.text !== 'string') throw new AgentError('spool-corrupt', 'the spool holds a malformed GTID position');
    gtid = o.gtid.flavor === 'mariadb' ? parseMariaDbGtids(o.gtid.text) : parseMySqlGtidSet(o.gtid.text);
  }
  return { gtid, file: o.file, pos: o.pos };
}
