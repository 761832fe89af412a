/**
 * An agent whose source needs a person (here: a PostgreSQL server with
 * wal_level=replica) must exit, so its supervisor shows it failing, instead
 * of idling with its snapshot engine and uplink still running.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startPostgres, type PgInstance } from './support/postgres.js';
import { agentProcess, freePort, tempDir, waitFor } from './support/pipeline.js';

let pgi: PgInstance;
const dir = tempDir('agent-exit');

before(async () => {
  pgi = await startPostgres({ walLevel: 'replica' });
});

after(async () => {
  await pgi?.stop();
});

test('an agent whose PostgreSQL source has wal_level=replica exits with an error naming the setting', async () => {
  const agent = agentProcess({ dir: join(dir, 'agent'), hubPort: await freePort(), sourcePort: pgi.port, sourceDatabase: 'postgres', agentId: 'agent-x', sourceId: 'src', slot: 'tributary_exit' });
  agent.start();
  try {
    await waitFor('the agent to exit', async () => !agent.running, 90_000);
  } finally {
    if (agent.running) await agent.kill9();
  }
  assert.equal(agent.exits, 1);
  assert.match(readFileSync(agent.logPath, 'utf8'), /wal_level/);
});
