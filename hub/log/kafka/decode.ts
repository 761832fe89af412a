/** ChangeBatch bytes → typed changes, with schemas looked up by (table, version). */
import { fromBinary } from '@bufbuild/protobuf';
import { ChangeBatchSchema, Op, type TableSchema } from '../../../proto/gen/tributary/v1/change_pb.js';
import { decodeRow } from '../../../proto/tributary/v1/row-codec.js';
import { HubError } from '../../errors.js';
import { sourceTimeOf } from '../../sinks/freshness.js';
import type { ChangeOp, SinkChange } from '../../sinks/sink.js';

const OPS: Partial<Record<Op, ChangeOp>> = {
  [Op.INSERT]: 'insert',
  [Op.UPDATE]: 'update',
  [Op.DELETE]: 'delete',
  [Op.TRUNCATE]: 'truncate',
  [Op.READ]: 'read',
};

export type SchemaLookup = (schema: string, table: string, version: number) => TableSchema | undefined;

/**
 * Decodes one batch; `where` names the batch in errors (a missing schema or unknown op is malformed input, never skipped).
 * `onCommit` receives a batch that completes a transaction: its source position and source time (freshness).
 */
export function decodeBatch(
  sourceKey: string,
  bytes: Uint8Array,
  lookup: SchemaLookup,
  where: string,
  onCommit?: (position: bigint, sourceTimeUs: number) => void,
): SinkChange[] {
  let batch;
  try {
    batch = fromBinary(ChangeBatchSchema, bytes);
  } catch (cause) {
    throw new HubError('malformed', `${sourceKey}: ${where} is not a ChangeBatch`, { cause });
  }
  const out: SinkChange[] = [];
  for (const e of batch.events) {
    const schema = lookup(e.schema, e.table, e.schemaVersion);
    if (schema === undefined) throw new HubError('schema', `${sourceKey}: no schema ${e.schema}.${e.table} version ${e.schemaVersion} (${where})`);
    const op = OPS[e.op];
    if (op === undefined) throw new HubError('malformed', `${sourceKey}: unknown op ${e.op} (${where})`);
    out.push({
      sourceKey,
      op,
      schema,
      key: e.key.length > 0 ? decodeRow(e.key) : [],
      before: e.before.length > 0 ? decodeRow(e.before) : null,
      after: e.after.length > 0 ? decodeRow(e.after) : null,
      position: { commit: e.commitPosition, index: e.indexInTx },
      commitTimeUs: e.commitTimeUs,
      txid: e.txid,
    });
  }
  if (onCommit !== undefined && batch.commitBoundary) onCommit(batch.sourcePosition, sourceTimeOf(batch));
  return out;
}

/** Only the freshness of a batch (for batches a sink already applied before a restart). */
export function batchFreshness(bytes: Uint8Array): { readonly commit: boolean; readonly position: bigint; readonly sourceTimeUs: number } | null {
  try {
    const batch = fromBinary(ChangeBatchSchema, bytes);
    return { commit: batch.commitBoundary, position: batch.sourcePosition, sourceTimeUs: sourceTimeOf(batch) };
  } catch {
    return null;
  }
}
