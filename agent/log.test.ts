import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from './log.js';

describe('createLogger', () => {
  it('writes one JSON object per line with time, level, component, context and fields', () => {
    const lines: string[] = [];
    const log = createLogger('info', { process: 'p' }, (l) => lines.push(l));
    log.info('started', { n: 1n, error: Object.assign(new Error('boom', { cause: new Error('root') }), { kind: 'source-unavailable' }) });
    log.child('sink').warn('slow', { sink: 'dw' });
    log.debug('hidden');
    assert.equal(lines.length, 2);
    for (const l of lines) assert.ok(l.endsWith('\n') && !l.slice(0, -1).includes('\n'), 'one line each');
    const [a, b] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(a !== undefined && b !== undefined);
    assert.ok(!Number.isNaN(Date.parse(String(a['time']))));
    assert.equal(a['level'], 'info');
    assert.equal(a['component'], 'main');
    assert.equal(a['process'], 'p');
    assert.equal(a['n'], '1');
    assert.deepEqual(a['error'], { name: 'Error', message: 'boom', kind: 'source-unavailable', cause: { name: 'Error', message: 'root' } });
    assert.equal(b['component'], 'sink');
    assert.equal(b['level'], 'warn');
    assert.equal(b['msg'], 'slow');
  });

  it('never lets a field overwrite the envelope', () => {
    const lines: string[] = [];
    createLogger('info', {}, (l) => lines.push(l)).error('x', { level: 'debug', time: 'then', component: 'c' });
    const rec = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
    assert.equal(rec['level'], 'error');
    assert.equal(rec['component'], 'main');
    assert.equal(rec['field.level'], 'debug');
    assert.equal(rec['field.time'], 'then');
  });
});
