/**
 * The worker thread that reads snapshot chunks (chunk-reader.ts) for one
 * PostgreSQL source: `workerData` is the connection config; each message is
 * a ChunkRequest, answered by a ChunkReply whose buffers are transferred,
 * not copied. Failures travel as an AgentError's kind and message. Started
 * by chunk-worker-pool.ts; importing it elsewhere does nothing.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type pg from 'pg';
import { AgentError } from '../../errors.js';
import type { ChunkKey, KeyedTable } from '../../snapshot/snapshot-source.js';
import { ChunkReader, type RawChunk } from './chunk-reader.js';

export interface ChunkRequest {
  readonly id: number;
  readonly table: KeyedTable;
  readonly after: ChunkKey | null;
  readonly limit: number;
}

export type ChunkReply =
  | { readonly id: number; readonly ok: true; readonly chunk: RawChunk }
  | { readonly id: number; readonly ok: false; readonly kind: AgentError['kind']; readonly message: string };

const port = parentPort;
if (port !== null && (workerData as { role?: unknown } | null)?.role === 'tributary-chunk-reader') {
  const reader = new ChunkReader((workerData as { client: pg.ClientConfig }).client);
  port.on('message', (req: ChunkRequest) => {
    reader.read(req.table, req.after, req.limit).then(
      (chunk) => port.postMessage({ id: req.id, ok: true, chunk } satisfies ChunkReply, [chunk.bytes.buffer as ArrayBuffer, chunk.ends.buffer as ArrayBuffer]),
      (e: unknown) => {
        const err = e instanceof AgentError ? e : new AgentError('internal', `snapshot chunk read failed: ${e instanceof Error ? e.message : String(e)}`);
        port.postMessage({ id: req.id, ok: false, kind: err.kind, message: err.message } satisfies ChunkReply);
      },
    );
  });
}
