/**
 * Checks a value against the subset of JSON Schema the hub's OpenAPI
 * document uses (type, properties, required, additionalProperties: false,
 * items, enum, anyOf, allOf, $ref), returning the paths that do not match.
 * The API unit tests hold every answer to what the document says.
 */
type Json = Readonly<Record<string, unknown>>;

function typeOk(type: unknown, v: unknown): boolean {
  switch (type) {
    case 'object':
      return v !== null && typeof v === 'object' && !Array.isArray(v);
    case 'array':
      return Array.isArray(v);
    case 'string':
      return typeof v === 'string';
    case 'integer':
      return Number.isInteger(v);
    case 'number':
      return typeof v === 'number';
    case 'boolean':
      return typeof v === 'boolean';
    case 'null':
      return v === null;
    default:
      return true;
  }
}

export function schemaErrors(schema: Json, v: unknown, schemas: Readonly<Record<string, Json>>, path = '$'): string[] {
  const ref = schema['$ref'];
  if (typeof ref === 'string') {
    const target = schemas[ref.replace('#/components/schemas/', '')];
    return target === undefined ? [`${path}: unresolved ${ref}`] : schemaErrors(target, v, schemas, path);
  }
  const anyOf = schema['anyOf'] as Json[] | undefined;
  if (anyOf !== undefined && !anyOf.some((s) => schemaErrors(s, v, schemas, path).length === 0)) return [`${path}: matches none of anyOf`];
  const allOf = schema['allOf'] as Json[] | undefined;
  const out = allOf?.flatMap((s) => schemaErrors(s, v, schemas, path)) ?? [];
  if (!typeOk(schema['type'], v)) return [...out, `${path}: expected ${String(schema['type'])}, got ${JSON.stringify(v)?.slice(0, 60)}`];
  const en = schema['enum'] as unknown[] | undefined;
  if (en !== undefined && !en.includes(v)) out.push(`${path}: ${JSON.stringify(v)} not in ${JSON.stringify(en)}`);
  if (schema['type'] === 'object' && v !== null && typeof v === 'object') {
    const props = (schema['properties'] ?? {}) as Record<string, Json>;
    const o = v as Record<string, unknown>;
    for (const k of (schema['required'] ?? []) as string[]) if (!(k in o)) out.push(`${path}.${k}: missing`);
    for (const [k, val] of Object.entries(o)) {
      const p = props[k];
      if (p !== undefined) out.push(...schemaErrors(p, val, schemas, `${path}.${k}`));
      else if (schema['additionalProperties'] === false) out.push(`${path}.${k}: not in the document`);
    }
  }
  if (schema['type'] === 'array' && Array.isArray(v) && schema['items'] !== undefined) v.forEach((x, i) => out.push(...schemaErrors(schema['items'] as Json, x, schemas, `${path}[${i}]`)));
  return out;
}
