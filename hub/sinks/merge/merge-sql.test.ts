import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mergeSql, truncateSql, type MergeShape } from './merge-sql.js';

const meta = { lsn: 'L', index: 'I', op: 'O', commitTime: 'C', syncedAt: 'S', deleted: 'D' };
const shape: MergeShape = { target: 'T', stage: 'ST', columns: ['"k"', '"v"'], keyIndexes: [0], meta, unchanged: 'U', deletePolicy: 'hard', partial: false, now: 'now()' };

describe('mergeSql', () => {
  it('guards every matched clause by the source position and deletes hard', () => {
    const sql = mergeSql(shape);
    assert.match(sql, /^MERGE INTO T AS t USING ST AS s ON t\."k" = s\."k" /);
    assert.equal(sql.split('(t.L < s.L OR (t.L = s.L AND t.I < s.I))').length - 1, 2);
    assert.match(sql, /WHEN MATCHED AND s\.O = 'd' AND .* THEN DELETE/);
    assert.doesNotMatch(sql, /CASE WHEN/);
    assert.doesNotMatch(sql, /"k" = s\."k",/, 'the key is never updated');
  });
  it('soft: tombstones for matched and unseen keys, upserts clear the flag; partial rows keep stored values', () => {
    const sql = mergeSql({ ...shape, deletePolicy: 'soft', partial: true });
    assert.match(sql, /THEN UPDATE SET L = s\.L, I = s\.I, O = s\.O, C = s\.C, S = now\(\), D = TRUE/);
    assert.match(sql, /WHEN NOT MATCHED AND s\.O = 'd' THEN INSERT \("k", L, I, O, C, S, D\)/);
    assert.match(sql, /"v" = CASE WHEN SUBSTR\(s\.U, 2, 1\) = '1' THEN t\."v" ELSE s\."v" END/);
    assert.match(sql, /D = FALSE/);
  });
  it('a truncate removes or flags only rows older than itself', () => {
    assert.equal(truncateSql(shape, 10n, 2, 'x'), 'DELETE FROM T WHERE (L < 10 OR (L = 10 AND I < 2))');
    assert.match(truncateSql({ ...shape, deletePolicy: 'soft' }, 10n, 2, 'x'), /^UPDATE T SET D = TRUE, O = 't', L = 10, I = 2, C = x, S = now\(\) WHERE/);
  });
});
