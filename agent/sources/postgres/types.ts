import { ValueKind } from '../../../proto/gen/tributary/v1/change_pb.js';

/**
 * The type catalog: maps the type OIDs and modifiers of pgoutput Relation
 * columns to Tributary value kinds and to the SQL type text a destination can
 * use to create the column.
 *
 * Loaded once per connection with PG_TYPE_CATALOG_SQL, and again when a
 * Relation message names an OID the catalog lacks (a type created after the
 * load): `resolve` returns undefined for such OIDs rather than guessing.
 */

/** One row per pg_type entry. OIDs may arrive as numbers or as text, depending on the client. */
export const PG_TYPE_CATALOG_SQL = `SELECT t.oid, t.typname, n.nspname AS namespace, t.typtype, t.typelem,
  t.typbasetype, t.typtypmod, t.typcategory, t.typdelim, t.typarray
FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace`;

export interface PgTypeRow {
  readonly oid: number | string;
  readonly typname: string;
  readonly namespace: string;
  /** 'b' base, 'c' composite, 'd' domain, 'e' enum, 'p' pseudo, 'r' range, 'm' multirange. */
  readonly typtype: string;
  readonly typelem: number | string;
  readonly typbasetype: number | string;
  /** A domain's own type modifier (e.g. numeric(12,2)); -1 otherwise. */
  readonly typtypmod: number | string;
  readonly typcategory: string;
  readonly typdelim: string;
  readonly typarray: number | string;
}

export interface ResolvedType {
  readonly kind: ValueKind;
  /** The element kind of an array; UNSPECIFIED otherwise. */
  readonly elementKind: ValueKind;
  /**
   * The type as PostgreSQL's format_type(oid, typmod) prints it, e.g.
   * `numeric(12,2)`, `timestamp(3) with time zone`, `character varying(40)[]`.
   * Domains are replaced by their base type (with the domain's modifier),
   * because a destination must create the column from a type it knows.
   */
  readonly sourceType: string;
  /** 1 for arrays (pgoutput does not send attndims, and PostgreSQL does not enforce it), 0 otherwise. */
  readonly arrayDims: number;
  /** The array element's type OID after domain resolution; 0 when not an array. */
  readonly elementTypeOid: number;
  /** The element type's array delimiter (`,` for all but a few geometric types, e.g. box uses `;`). */
  readonly delimiter: string;
}

interface TypeInfo {
  readonly oid: number;
  readonly name: string;
  readonly namespace: string;
  readonly typtype: string;
  readonly elem: number;
  readonly base: number;
  readonly typmod: number;
  readonly category: string;
  readonly delim: string;
}

/**
 * Built-in types Tributary carries natively, by OID (OIDs below 10000 are fixed
 * across PostgreSQL versions, unlike names, which a user may shadow).
 * Every other type — point, inet, money, xml, tsvector, bit, ranges, composites,
 * extension types — is carried as VALUE_KIND_TEXT holding its text output, with
 * sourceType naming the type, so nothing is lost and a destination can still
 * store it (as text) or cast it back.
 */
const BUILTIN_KINDS: ReadonlyMap<number, ValueKind> = new Map([
  [16, ValueKind.BOOL],
  [17, ValueKind.BYTES],
  [18, ValueKind.TEXT],
  [19, ValueKind.TEXT],
  [20, ValueKind.INT64],
  [21, ValueKind.INT16],
  [23, ValueKind.INT32],
  [25, ValueKind.TEXT],
  [114, ValueKind.JSON],
  [700, ValueKind.FLOAT32],
  [701, ValueKind.FLOAT64],
  [1042, ValueKind.TEXT],
  [1043, ValueKind.TEXT],
  [1082, ValueKind.DATE],
  [1083, ValueKind.TIME],
  [1114, ValueKind.TIMESTAMP],
  [1184, ValueKind.TIMESTAMPTZ],
  [1186, ValueKind.INTERVAL],
  [1266, ValueKind.TIMETZ],
  [1700, ValueKind.DECIMAL],
  [2950, ValueKind.UUID],
  [3802, ValueKind.JSONB],
]);

/** int2vector and oidvector are category 'A' with an element type but print space-separated, not as array literals. */
const NOT_ARRAYS: ReadonlySet<number> = new Set([22, 30]);

const MAX_DOMAIN_DEPTH = 32;

export class PgTypeCatalog {
  private readonly types = new Map<number, TypeInfo>();

  constructor(rows: Iterable<PgTypeRow>) {
    for (const r of rows) {
      const oid = Number(r.oid);
      this.types.set(oid, {
        oid,
        name: r.typname,
        namespace: r.namespace,
        typtype: r.typtype,
        elem: Number(r.typelem),
        base: Number(r.typbasetype),
        typmod: Number(r.typtypmod),
        category: r.typcategory,
        delim: r.typdelim,
      });
    }
  }

  get size(): number {
    return this.types.size;
  }

  has(typeOid: number): boolean {
    return this.types.has(typeOid);
  }

  /** The kind and SQL type of a column; undefined when the OID (or a type it refers to) is not in the catalog. */
  resolve(typeOid: number, typeMod: number): ResolvedType | undefined {
    const t = this.baseOf(typeOid, typeMod);
    if (t === undefined) return undefined;
    if (!isArray(t.info)) {
      return { ...this.scalar(t.info, t.typmod), elementKind: ValueKind.UNSPECIFIED, arrayDims: 0, elementTypeOid: 0, delimiter: ',' };
    }
    const declared = this.types.get(t.info.elem);
    // An array's typmod applies to its elements (varchar(40)[] has atttypmod 44).
    const elem = this.baseOf(t.info.elem, t.typmod);
    if (declared === undefined || elem === undefined || isArray(elem.info)) return undefined;
    const scalar = this.scalar(elem.info, elem.typmod);
    return {
      kind: ValueKind.ARRAY,
      elementKind: scalar.kind,
      sourceType: `${scalar.sourceType}[]`,
      arrayDims: 1,
      elementTypeOid: elem.info.oid,
      delimiter: declared.delim,
    };
  }

  /** The type a column of `typeOid` stores: domains followed to their base type; undefined when not in the catalog. */
  baseTypeOid(typeOid: number): number | undefined {
    return this.baseOf(typeOid, -1)?.info.oid;
  }

  /** Follows domains to their base type; a domain's own modifier applies when the column has none. */
  private baseOf(oid: number, typmod: number): { info: TypeInfo; typmod: number } | undefined {
    let info = this.types.get(oid);
    let mod = typmod;
    for (let depth = 0; info !== undefined && info.typtype === 'd'; depth++) {
      if (depth >= MAX_DOMAIN_DEPTH) return undefined;
      if (mod < 0) mod = info.typmod;
      info = this.types.get(info.base);
    }
    return info === undefined ? undefined : { info, typmod: mod };
  }

  private scalar(info: TypeInfo, typmod: number): { kind: ValueKind; sourceType: string } {
    const builtin = BUILTIN_KINDS.get(info.oid);
    const kind = builtin ?? (info.typtype === 'e' ? ValueKind.ENUM : ValueKind.TEXT);
    return { kind, sourceType: formatType(info, typmod) };
  }
}

function isArray(info: TypeInfo): boolean {
  return info.category === 'A' && info.elem !== 0 && !NOT_ARRAYS.has(info.oid);
}

/** Mirrors format_type(oid, typmod) in src/backend/utils/adt/format_type.c for the types that have SQL-standard names. */
function formatType(info: { oid: number; name: string; namespace: string }, typmod: number): string {
  const has = typmod >= 0;
  switch (info.oid) {
    case 16:
      return 'boolean';
    case 18:
      return '"char"';
    case 20:
      return 'bigint';
    case 21:
      return 'smallint';
    case 23:
      return 'integer';
    case 700:
      return 'real';
    case 701:
      return 'double precision';
    case 1042:
      // A bpchar column with typmod -1 is not character(1): format_type says "bpchar".
      return has ? `character(${typmod - 4})` : 'bpchar';
    case 1043:
      return has ? `character varying(${typmod - 4})` : 'character varying';
    case 1083:
      return has ? `time(${typmod}) without time zone` : 'time without time zone';
    case 1266:
      return has ? `time(${typmod}) with time zone` : 'time with time zone';
    case 1114:
      return has ? `timestamp(${typmod}) without time zone` : 'timestamp without time zone';
    case 1184:
      return has ? `timestamp(${typmod}) with time zone` : 'timestamp with time zone';
    case 1186:
      return has ? `interval${intervalTypmod(typmod)}` : 'interval';
    case 1700:
      return has ? numericTypmod(typmod) : 'numeric';
    case 1560:
      return has ? `bit(${typmod})` : '"bit"';
    case 1562:
      return has ? `bit varying(${typmod})` : 'bit varying';
  }
  const name = quoteIdent(info.name);
  // Only names outside the default search path need qualifying for the DDL a destination writes.
  if (info.namespace === 'pg_catalog' || info.namespace === 'public') return name;
  return `${quoteIdent(info.namespace)}.${name}`;
}

/** numerictypmodout: typmod = ((precision << 16) | scale) + 4, scale an 11-bit signed field. */
function numericTypmod(typmod: number): string {
  const t = typmod - 4;
  const precision = (t >> 16) & 0xffff;
  const scale = ((t & 0x7ff) ^ 1024) - 1024;
  return `numeric(${precision},${scale})`;
}

const INTERVAL_FIELDS: ReadonlyMap<number, string> = new Map([
  [1 << 2, ' year'],
  [1 << 1, ' month'],
  [1 << 3, ' day'],
  [1 << 10, ' hour'],
  [1 << 11, ' minute'],
  [1 << 12, ' second'],
  [(1 << 2) | (1 << 1), ' year to month'],
  [(1 << 3) | (1 << 10), ' day to hour'],
  [(1 << 3) | (1 << 10) | (1 << 11), ' day to minute'],
  [(1 << 3) | (1 << 10) | (1 << 11) | (1 << 12), ' day to second'],
  [(1 << 10) | (1 << 11), ' hour to minute'],
  [(1 << 10) | (1 << 11) | (1 << 12), ' hour to second'],
  [(1 << 11) | (1 << 12), ' minute to second'],
  [0x7fff, ''],
]);

/** intervaltypmodout: typmod = (fields << 16) | precision, precision 0xFFFF when unspecified. */
function intervalTypmod(typmod: number): string {
  const fields = INTERVAL_FIELDS.get((typmod >> 16) & 0x7fff) ?? '';
  const precision = typmod & 0xffff;
  return precision === 0xffff ? fields : `${fields}(${precision})`;
}

function quoteIdent(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}
