/**
 * The alert feed on disk: a small LMDB environment in the hub's state
 * directory (like the security state store). Alerts by id (ids sort by
 * creation time) and, per condition key, the id of its newest alert. Every
 * write resolves once it is on disk, so an acknowledgement the API confirmed
 * survives a crash.
 */
import { open, type Database, type RootDatabase } from 'lmdb';
import type { Alert } from './alert.js';

export class AlertStore implements AsyncDisposable {
  private readonly root: RootDatabase;
  readonly alerts: Database<Alert, string>;
  readonly byKey: Database<string, string>;

  constructor(path: string) {
    this.root = open({ path, maxDbs: 4, compression: false });
    this.alerts = this.root.openDB({ name: 'alerts', encoding: 'msgpack' });
    this.byKey = this.root.openDB({ name: 'alert-keys', encoding: 'msgpack' });
  }

  /** Runs `fn` in one write transaction and resolves once durable. */
  async write<T>(fn: () => T): Promise<T> {
    const result = this.root.transactionSync(fn);
    await this.root.flushed;
    return result;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.root.close();
  }
}
