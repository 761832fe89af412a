/**
 * Pipelines on the hub's disk: a small LMDB environment in the hub's state
 * directory (`security.path`, which every hub has, also with the Kafka log),
 * kept beside the security state in the same way (hub/auth/state-store.ts).
 * Every write resolves after it is on disk (`flushed`): a pipeline the API
 * confirmed survives a crash.
 */
import { open, type Database, type RootDatabase } from 'lmdb';
import type { PipelineRecord } from './pipeline.js';

export class PipelineStore implements AsyncDisposable {
  private readonly root: RootDatabase;
  private readonly pipelines: Database<PipelineRecord, string>;

  constructor(path: string) {
    this.root = open({ path, maxDbs: 2, compression: false });
    this.pipelines = this.root.openDB({ name: 'pipelines', encoding: 'msgpack' });
  }

  /** Every stored record by key (workspace/name). */
  all(): Map<string, PipelineRecord> {
    return new Map([...this.pipelines.getRange({})].map(({ key, value }) => [key, value]));
  }

  /** Stores (or, with null, removes) records in one transaction; resolves once durable. */
  async write(changes: ReadonlyArray<readonly [string, PipelineRecord | null]>): Promise<void> {
    this.root.transactionSync(() => {
      for (const [key, rec] of changes) {
        if (rec === null) this.pipelines.removeSync(key);
        else this.pipelines.putSync(key, rec);
      }
    });
    await this.root.flushed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.root.close();
  }
}
