/**
 * The hub's security state in one small LMDB environment inside the hub's
 * state directory: agents, issued certificates, enrollment tokens and API
 * tokens. Only hashes of token secrets are stored. Every write resolves
 * after it is on disk (`flushed`), so a revocation that the API confirmed
 * survives a crash.
 */
import { open, type Database, type RootDatabase } from 'lmdb';

export type Scope = 'admin' | 'read';

export interface AgentRecord {
  readonly id: string;
  readonly workspace: string;
  readonly createdAt: string;
  readonly revokedAt: string | null;
  /** SHA-256 fingerprint of the newest certificate issued to the agent. */
  readonly certificate: string | null;
  readonly certificateNotAfter: string | null;
}

export interface CertificateRecord {
  readonly fingerprint: string;
  readonly agentId: string;
  readonly workspace: string;
  readonly serial: string;
  readonly notAfter: string;
  readonly issuedAt: string;
}

export interface EnrollmentRecord {
  readonly id: string;
  /** SHA-256 of the token secret, hex. */
  readonly hash: string;
  readonly agentId: string;
  readonly workspace: string;
  readonly expiresAt: string;
  readonly usedAt: string | null;
}

export interface ApiTokenRecord {
  readonly id: string;
  readonly hash: string;
  readonly workspace: string;
  readonly scope: Scope;
  readonly name: string;
  readonly createdAt: string;
  readonly revokedAt: string | null;
}

export class HubStateStore implements AsyncDisposable {
  private readonly root: RootDatabase;
  readonly agents: Database<AgentRecord, string>;
  readonly certificates: Database<CertificateRecord, string>;
  readonly enrollments: Database<EnrollmentRecord, string>;
  readonly apiTokens: Database<ApiTokenRecord, string>;

  constructor(path: string) {
    this.root = open({ path, maxDbs: 8, compression: false });
    this.agents = this.root.openDB({ name: 'agents', encoding: 'msgpack' });
    this.certificates = this.root.openDB({ name: 'certificates', encoding: 'msgpack' });
    this.enrollments = this.root.openDB({ name: 'enrollment-tokens', encoding: 'msgpack' });
    this.apiTokens = this.root.openDB({ name: 'api-tokens', encoding: 'msgpack' });
  }

  /**
   * Runs `fn` in one write transaction (so a check and the write it guards
   * are atomic, e.g. spending a one-time token) and resolves once durable.
   */
  async write<T>(fn: () => T): Promise<T> {
    const result = this.root.transactionSync(fn);
    await this.root.flushed;
    return result;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.root.close();
  }
}
