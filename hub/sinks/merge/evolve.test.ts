import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { divertedName, holds, planEvolution, widens } from './evolve.js';

const cols = (...pairs: [string, string][]) => pairs.map(([name, type]) => ({ name, type }));
const latest = { older: false, dropColumns: false };

describe('schema evolution planning', () => {
  it('adds a new column and keeps the others', () => {
    const e = planEvolution(cols(['id', 'integer'], ['v', 'text']), cols(['id', 'integer'], ['v', 'text'], ['n', 'bigint']), latest);
    assert.deepEqual(e.changes, [{ kind: 'add', name: 'n', type: 'bigint' }]);
    assert.deepEqual(e.targets.map((t) => t?.name), ['id', 'v', 'n']);
    assert.deepEqual(e.nulled, []);
  });

  it('keeps a dropped column and writes it NULL, or drops it when configured', () => {
    const existing = cols(['id', 'integer'], ['v', 'text'], ['gone', 'text']);
    const wanted = cols(['id', 'integer'], ['v', 'text']);
    assert.deepEqual(planEvolution(existing, wanted, latest).nulled, ['gone']);
    const dropped = planEvolution(existing, wanted, { older: false, dropColumns: true });
    assert.deepEqual(dropped.changes, [{ kind: 'drop', name: 'gone' }]);
    assert.deepEqual(dropped.nulled, []);
  });

  it('widens in place and diverts an incompatible change to a column named after the type', () => {
    const e = planEvolution(cols(['id', 'integer'], ['qty', 'integer'], ['code', 'character varying(10)']), cols(['id', 'bigint'], ['qty', 'text'], ['code', 'text']), latest);
    assert.deepEqual(e.changes, [
      { kind: 'alter', name: 'id', from: 'integer', to: 'bigint' },
      { kind: 'add', name: 'qty__text', type: 'text' },
      { kind: 'alter', name: 'code', from: 'character varying(10)', to: 'text' },
    ]);
    assert.deepEqual(e.targets.map((t) => t?.name), ['id', 'qty__text', 'code']);
    assert.deepEqual(e.incompatible, [{ column: 'qty', from: 'integer', to: 'text', target: 'qty__text' }]);
    // The old column is kept (NULL from now on) even under dropColumns: it holds the history.
    assert.deepEqual(e.nulled, ['qty']);
    assert.deepEqual(planEvolution(cols(['id', 'integer'], ['qty', 'integer']), cols(['id', 'integer'], ['qty', 'text']), { older: false, dropColumns: true }).nulled, ['qty']);
  });

  it('is stable: the next version (or a restart) finds the diverted column again', () => {
    const e = planEvolution(cols(['id', 'integer'], ['qty', 'integer'], ['qty__text', 'text']), cols(['id', 'integer'], ['qty', 'text']), latest);
    assert.deepEqual(e.changes, []);
    assert.deepEqual(e.targets.map((t) => t?.name), ['id', 'qty__text']);
    assert.deepEqual(e.incompatible, []);
    // The original column is never dropped: it holds the values from before the change.
    const again = planEvolution(cols(['id', 'integer'], ['qty', 'integer'], ['qty__text', 'text']), cols(['id', 'integer'], ['qty', 'text']), { older: false, dropColumns: true });
    assert.deepEqual(again.changes, []);
    assert.deepEqual(again.nulled, ['qty']);
  });

  it('never narrows, alters or drops for an older version (a replay)', () => {
    const existing = cols(['id', 'bigint'], ['qty', 'integer'], ['qty__text', 'text'], ['added', 'text']);
    const e = planEvolution(existing, cols(['id', 'integer'], ['qty', 'integer']), { older: true, dropColumns: true });
    assert.deepEqual(e.changes, []);
    assert.deepEqual(e.targets.map((t) => t?.name), ['id', 'qty']);
    assert.deepEqual(e.nulled, ['qty__text', 'added']);
  });

  it('skips, rather than re-adds, a column a newer version dropped, when asked', () => {
    const e = planEvolution(cols(['id', 'integer']), cols(['id', 'integer'], ['old', 'text']), { older: true, dropColumns: true, skipMissing: true });
    assert.deepEqual(e.changes, []);
    assert.deepEqual(e.targets, [{ name: 'id', type: 'integer' }, null]);
  });

  it('folds names the way the destination compares them', () => {
    const e = planEvolution(cols(['ID', 'INTEGER']), cols(['id', 'INTEGER']), { ...latest, fold: (n) => n.toLowerCase() });
    assert.deepEqual(e.changes, []);
  });

  it('knows the widening families of each dialect', () => {
    assert.ok(widens('smallint', 'integer') && widens('integer', 'bigint') && widens('INTEGER', 'BIGINT'));
    assert.ok(widens('NUMBER(10,0)', 'NUMBER(19,0)') && widens('numeric(10,2)', 'numeric(12,2)') && widens('numeric(10,2)', 'numeric'));
    assert.ok(widens('character varying(10)', 'character varying(20)') && widens('character varying(10)', 'text') && widens('VARCHAR(36)', 'VARCHAR'));
    assert.ok(widens('real', 'double precision') && widens('FLOAT', 'DOUBLE'));
    assert.ok(widens('integer', 'numeric(12,0)'));
    assert.ok(!widens('bigint', 'integer') && !widens('integer', 'text') && !widens('text', 'integer'));
    assert.ok(!widens('numeric(10,2)', 'numeric(12,4)') && !widens('timestamp', 'timestamp with time zone'));
    assert.ok(holds('bigint', 'integer') && holds('text', 'text') && !holds('integer', 'bigint'));
  });

  it('names diverted columns after the type', () => {
    assert.equal(divertedName('qty', 'text'), 'qty__text');
    assert.equal(divertedName('code', 'character varying(20)'), 'code__character_varying_20');
    assert.equal(divertedName('QTY', 'VARCHAR'), 'QTY__VARCHAR');
    assert.equal(divertedName('amount', 'NUMBER(19,0)'), 'amount__number_19_0');
  });
});
