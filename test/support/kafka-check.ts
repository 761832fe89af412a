/**
 * Checks that Kafka holds the source's changes exactly once: the table
 * topic's envelopes (count, unique source positions, and folded per key equal
 * to the source table) and the ingest topic's batch sequences (dense, unique).
 */
import assert from 'node:assert/strict';
import type pg from 'pg';
import { waitFor } from './pipeline.js';
import { readTopic, type TopicRecord } from './kafka-pipeline.js';

interface Envelope {
  readonly op: string;
  readonly before: Record<string, unknown> | null;
  readonly after: Record<string, unknown> | null;
  readonly source: { readonly sequence: string; readonly table: string };
}

/** Waits until the topic holds at least `expected` data records, then returns them (fails with the count otherwise). */
export async function recordsWhenComplete(bootstrap: string, topic: string, expected: number, timeoutMs = 90_000): Promise<TopicRecord[]> {
  let last: TopicRecord[] = [];
  await waitFor(
    `${topic} to hold ${expected} records`,
    async () => {
      last = (await readTopic(bootstrap, topic)).filter((r) => r.value !== null);
      return last.length >= expected;
    },
    timeoutMs,
    1000,
  ).catch((e: unknown) => {
    throw new Error(`${String(e)} (has ${last.length})`);
  });
  return last;
}

/** Asserts that the churn table's topic equals the source's committed changes exactly once. */
export async function assertChurnExactlyOnce(bootstrap: string, prefix: string, src: pg.Pool, expectedChanges: number): Promise<void> {
  const topic = `${prefix}.src.public.churn`;
  const records = await recordsWhenComplete(bootstrap, topic, expectedChanges);
  const envelopes = records.map((r) => JSON.parse((r.value as Buffer).toString('utf8')) as Envelope);
  const where = new Map<string, string[]>();
  records.forEach((r, i) => {
    const at = `partition ${r.partition} offset ${r.offset}`;
    const seq = (envelopes[i] as Envelope).source.sequence;
    where.set(seq, [...(where.get(seq) ?? []), at]);
  });
  const twice = [...where].filter(([, at]) => at.length > 1);
  assert.equal(twice.length, 0, `no change appears twice (by source position); ${twice.length} do, e.g. ${twice.slice(0, 3).map(([seq, at]) => `${seq} at ${at.join(' and ')}`).join('; ')}`);
  assert.equal(envelopes.length, expectedChanges, 'every committed change is in the topic exactly once');
  // Folding the envelopes per key in topic order gives the source table.
  const rows = new Map<string, string>();
  for (const e of envelopes) {
    if (e.op === 'd') rows.delete(String(e.before?.['id']));
    else rows.set(String(e.after?.['id']), JSON.stringify([e.after?.['id'], e.after?.['v'], e.after?.['note']]));
  }
  const source = await src.query<{ id: number; v: string; note: string | null }>('SELECT id, v::text AS v, note FROM churn ORDER BY id');
  const folded = [...rows.entries()].sort((a, b) => Number(a[0]) - Number(b[0])).map(([, v]) => v);
  assert.deepEqual(folded, source.rows.map((r) => JSON.stringify([r.id, Number(r.v), r.note])));
}

/** Asserts that the ingest topic holds batch sequences 1..N of the source once each, in order. */
export async function assertIngestDense(bootstrap: string, prefix: string, sourceKey: string): Promise<number> {
  const records = (await readTopic(bootstrap, `${prefix}.ingest`)).filter((r) => r.key === sourceKey);
  const sequences = records.map((r) => Number(r.headers['tributary.sequence']));
  sequences.forEach((s, i) => assert.equal(s, i + 1, `ingest record ${i} holds sequence ${s}`));
  return sequences.length;
}
