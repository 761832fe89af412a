/**
 * The `tributary` command: a broken configuration is refused before anything
 * starts, naming each wrong field, with exit status 2; secrets never print.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { tempDir } from './support/pipeline.js';

const CLI = resolve(import.meta.dirname, '../scripts/tributary.mjs');

function run(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stderr: r.stderr };
}

test('an agent configuration with wrong fields is refused with every field path, exit 2', () => {
  const dir = tempDir('cli');
  const file = join(dir, 'agent.json');
  writeFileSync(
    file,
    JSON.stringify({
      agentId: 'a 1',
      hub: { address: 'nohost', plaintext: true },
      spool: { path: join(dir, 'spool'), maxBytes: 10 },
      source: { kind: 'postgres', id: 'src', port: 70000, database: 'db', user: 'u', password: { env: 'TRIBUTARY_TEST_UNSET' }, slot: 'Bad-Slot', publication: 'p' },
      extra: 1,
    }),
  );
  const r = run(['agent', '--config', file]);
  assert.equal(r.status, 2);
  for (const path of ['config.agentId', 'hub.address', 'spool.maxBytes', 'source.port', 'source.password.env', 'source.slot', 'config.extra']) {
    assert.ok(r.stderr.includes(path), `stderr names ${path}:\n${r.stderr}`);
  }
});

test('a hub configuration naming an unknown sink is refused, exit 2', () => {
  const dir = tempDir('cli');
  const file = join(dir, 'hub.json');
  writeFileSync(file, JSON.stringify({ log: { path: join(dir, 'log') }, pipelines: [{ name: 'p', agent: 'a', source: 's', sinks: ['nope'] }] }));
  const r = run(['hub', '--config', file]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /pipelines\[0\]\.sinks\[0\]: "nope" is not a configured sink/);
});

test('a configuration that is not JSON, a missing file and a missing --config are refused, exit 2', () => {
  const dir = tempDir('cli');
  const file = join(dir, 'broken.json');
  writeFileSync(file, '{ "agentId": ');
  assert.equal(run(['agent', '--config', file]).status, 2);
  assert.match(run(['agent', '--config', file]).stderr, /not valid JSON/);
  assert.match(run(['hub', '--config', join(dir, 'missing.json')]).stderr, /cannot read configuration file/);
  assert.equal(run(['agent']).status, 2);
  assert.equal(run(['nonsense']).status, 2);
});

test('a source password from the environment never appears in the agent log', async () => {
  const dir = tempDir('cli');
  const file = join(dir, 'agent.json');
  const password = 'pa55-very-secret-value';
  writeFileSync(
    file,
    JSON.stringify({
      agentId: 'agent-1',
      hub: { address: '127.0.0.1:1', plaintext: true },
      spool: { path: join(dir, 'spool') },
      // Nothing listens on port 1: the agent logs connection failures, with its configuration in scope.
      source: { kind: 'postgres', id: 'src', port: 1, database: 'db', user: 'u', password: { env: 'TRIBUTARY_TEST_PASSWORD' }, slot: 's', publication: 'p' },
      logLevel: 'debug',
    }),
  );
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [CLI, 'agent', '--config', file], { env: { ...process.env, TRIBUTARY_TEST_PASSWORD: password } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  // Wait for the failure to be logged (start-up through tsx is slow on a loaded machine).
  const deadline = Date.now() + 60_000;
  while (!/connection to PostgreSQL failed|source session failed/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
  assert.match(out, /connection to PostgreSQL failed|source session failed/);
  assert.ok(!out.includes(password), 'the password must not be logged');
});
