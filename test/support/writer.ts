/** A steady writer of inserts, updates and deletes in small transactions, counting committed row changes. */
import type pg from 'pg';

export interface Writer {
  /** Row changes in committed transactions. */
  readonly committedChanges: () => number;
  stop(): Promise<void>;
}

export const WRITER_TABLE = 'CREATE TABLE churn (id int PRIMARY KEY, v bigint NOT NULL, note text)';
export const WRITER_COLUMNS = ['id', 'v', 'note'];

export function startWriter(pool: pg.Pool, opts: { keys?: number; pauseMs?: number } = {}): Writer {
  const keys = opts.keys ?? 500;
  let running = true;
  let changes = 0;
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const loop = (async () => {
    while (running) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        let n = 0;
        const statements = 1 + rnd(5);
        for (let i = 0; i < statements; i++) {
          const id = rnd(keys);
          const op = rnd(10);
          if (op < 5) {
            const r = await client.query('INSERT INTO churn VALUES ($1, 1, $2) ON CONFLICT (id) DO UPDATE SET v = churn.v + 1, note = EXCLUDED.note', [id, `w${rnd(1e6)}`]);
            n += r.rowCount ?? 0;
          } else if (op < 8) {
            const r = await client.query('UPDATE churn SET v = v + 1 WHERE id = $1', [id]);
            n += r.rowCount ?? 0;
          } else {
            const r = await client.query('DELETE FROM churn WHERE id = $1', [id]);
            n += r.rowCount ?? 0;
          }
        }
        await client.query('COMMIT');
        changes += n;
      } catch {
        await client.query('ROLLBACK').catch(() => undefined);
      } finally {
        client.release();
      }
      if (opts.pauseMs) await new Promise((r) => setTimeout(r, opts.pauseMs));
    }
  })();
  return {
    committedChanges: () => changes,
    async stop() {
      running = false;
      await loop;
    },
  };
}

export function randomBetween(min: number, max: number): number {
  return min + Math.floor(Math.random() * (max - min));
}
