/**
 * Where a source table lands, the same rule in every sink: `public.t` lands as
 * `t`, any other source schema `s.t` as `s_t` (always, not only on a clash,
 * so a table's destination name never depends on which other tables exist).
 * Two source tables that still map to one name are refused by each sink.
 */
export function destinationTableName(sourceSchema: string, table: string): string {
  return sourceSchema === 'public' ? table : `${sourceSchema}_${table}`;
}
