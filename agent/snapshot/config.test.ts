import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAgentConfig } from '../config.js';
import type { PostgresSourceConfig } from '../config.js';

const base = (snapshot?: unknown): Record<string, unknown> => ({
  agentId: 'edge-01',
  hub: { address: 'hub.example.com:7400', plaintext: true },
  spool: { path: '/tmp/spool' },
  source: { kind: 'postgres', id: 'db', database: 'shop', user: 'u', slot: 's', publication: 'p', ...(snapshot === undefined ? {} : { snapshot }) },
});
const snapshotOf = (json: Record<string, unknown>): PostgresSourceConfig['snapshot'] => (parseAgentConfig(json).source as PostgresSourceConfig).snapshot;

test('source.snapshot: defaults when absent, fields when given', () => {
  assert.deepEqual(snapshotOf(base()), { initial: false, chunkRows: 10_000, maxRowsPerSecond: 0, signalTable: null });
  assert.deepEqual(snapshotOf(base({ initial: true, chunkRows: 500, maxRowsPerSecond: 2000, signalTable: 'ops.tributary_signal' })), {
    initial: true,
    chunkRows: 500,
    maxRowsPerSecond: 2000,
    signalTable: 'ops.tributary_signal',
  });
});

test('source.snapshot: bad values are refused with their field path', () => {
  assert.throws(() => parseAgentConfig(base({ chunkRows: 0 })), /source\.snapshot\.chunkRows: expected an integer from 1/);
  assert.throws(() => parseAgentConfig(base({ maxRowsPerSecond: -1 })), /source\.snapshot\.maxRowsPerSecond/);
  assert.throws(() => parseAgentConfig(base({ initial: 'yes' })), /source\.snapshot\.initial: expected true or false/);
  assert.throws(() => parseAgentConfig(base({ signalTable: 'nodot' })), /source\.snapshot\.signalTable: "nodot" is not a "schema\.table" name/);
  assert.throws(() => parseAgentConfig(base({ chunk: 5 })), /source\.snapshot\.chunk: unknown field/);
});
