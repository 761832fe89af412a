/**
 * Scoped API tokens. `admin` may change its workspace; `read` may only
 * read it. Tokens are stored as SHA-256 hashes and compared in constant
 * time; the secret is shown once, at creation. Bootstrap tokens come from
 * the hub configuration (one per workspace), so a new hub can be reached
 * before any token exists in its store; they are held only as hashes too.
 */
import { HubError } from '../errors.js';
import type { ApiTokenRecord, HubStateStore, Scope } from './state-store.js';
import { API_TOKEN_PREFIX, hashSecret, newToken, parseToken, secretMatches } from './tokens.js';
import { timingSafeEqual } from 'node:crypto';

export interface Principal {
  readonly workspace: string;
  readonly scope: Scope;
  readonly tokenId: string;
}

export interface BootstrapToken {
  readonly workspace: string;
  /** SHA-256 of the token, hex (the configuration never keeps the token itself). */
  readonly hash: string;
}

export type PublicApiToken = Omit<ApiTokenRecord, 'hash'>;

export class ApiTokens {
  private readonly bootstrap: ReadonlyArray<{ workspace: string; hash: Buffer }>;

  constructor(
    private readonly store: HubStateStore,
    bootstrap: readonly BootstrapToken[],
  ) {
    this.bootstrap = bootstrap.map((b) => ({ workspace: b.workspace, hash: Buffer.from(b.hash, 'hex') }));
  }

  async create(workspace: string, scope: Scope, name: string): Promise<{ token: string; record: PublicApiToken }> {
    const { token, id, hash } = newToken(API_TOKEN_PREFIX);
    const rec: ApiTokenRecord = { id, hash, workspace, scope, name, createdAt: new Date().toISOString(), revokedAt: null };
    await this.store.write(() => this.store.apiTokens.putSync(id, rec));
    return { token, record: publicView(rec) };
  }

  list(workspace: string): PublicApiToken[] {
    return [...this.store.apiTokens.getRange({})].map((e) => e.value).filter((t) => t.workspace === workspace).map(publicView);
  }

  async revoke(workspace: string, id: string): Promise<PublicApiToken> {
    const rec = await this.store.write(() => {
      const t = this.store.apiTokens.get(id);
      if (t === undefined || t.workspace !== workspace) throw new HubError('not-found', `no token ${id}`);
      const revoked = { ...t, revokedAt: t.revokedAt ?? new Date().toISOString() };
      this.store.apiTokens.putSync(id, revoked);
      return revoked;
    });
    return publicView(rec);
  }

  /** The principal a bearer token stands for, or null (unknown, malformed or revoked: one answer for all). */
  authenticate(bearer: string): Principal | null {
    const parsed = parseToken(API_TOKEN_PREFIX, bearer);
    if (parsed !== null) {
      const t = this.store.apiTokens.get(parsed.id);
      if (t === undefined || t.revokedAt !== null || !secretMatches(parsed.secret, t.hash)) return null;
      return { workspace: t.workspace, scope: t.scope, tokenId: t.id };
    }
    const presented = Buffer.from(hashSecret(bearer), 'hex');
    let found: Principal | null = null;
    // Every bootstrap hash is compared, so timing does not tell which one matched.
    for (const b of this.bootstrap) if (timingSafeEqual(presented, b.hash) && found === null) found = { workspace: b.workspace, scope: 'admin', tokenId: 'bootstrap' };
    return found;
  }
}

function publicView(t: ApiTokenRecord): PublicApiToken {
  const { hash: _hash, ...rest } = t;
  return rest;
}
