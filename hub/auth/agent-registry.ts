/**
 * Agents and their credentials: creation, one-time enrollment tokens,
 * certificate issue and renewal, identification of a TLS peer, revocation.
 * The workspace of an agent is fixed when an admin of that workspace
 * creates it; afterwards the hub learns it only from the agent's verified
 * certificate (whose fingerprint must be one this hub issued and not revoked).
 */
import { createHash, createPublicKey, verify, X509Certificate } from 'node:crypto';
import { possessionMessage } from '../../proto/tributary/v1/enrollment-service.js';
import { HubError } from '../errors.js';
import type { CertificateAuthority } from './ca.js';
import type { AgentRecord, HubStateStore } from './state-store.js';
import { ENROLLMENT_TOKEN_PREFIX, newToken, parseToken, secretMatches } from './tokens.js';
import { fingerprint } from './x509.js';

export interface AgentIdentity {
  readonly agentId: string;
  readonly workspace: string;
  readonly fingerprint: string;
  /** Certificate expiry, ms since the epoch (Infinity in the plaintext development mode). */
  readonly notAfter: number;
}

export interface IssuedCredentials {
  readonly certificatePem: string;
  readonly caPem: string;
  readonly agentId: string;
  readonly workspace: string;
  readonly notAfter: Date;
}

export interface RegistryOptions {
  readonly certificateTtlMs: number;
  readonly enrollmentTtlMs: number;
}

export const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export class AgentRegistry {
  private readonly revokeListeners = new Set<(agentId: string) => void>();

  constructor(
    private readonly store: HubStateStore,
    readonly ca: CertificateAuthority,
    private readonly options: RegistryOptions,
  ) {}

  /** Agent ids are unique across the hub, so a log source key never mixes workspaces. */
  async createAgent(workspace: string, id: string): Promise<AgentRecord> {
    if (!NAME.test(id)) throw new HubError('bad-request', 'agent id must be 1-63 letters, digits, "_", "-", "." starting with a letter or digit');
    return this.store.write(() => {
      if (this.store.agents.get(id) !== undefined) throw new HubError('conflict', `agent ${id} already exists`);
      const rec: AgentRecord = { id, workspace, createdAt: new Date().toISOString(), revokedAt: null, certificate: null, certificateNotAfter: null };
      this.store.agents.putSync(id, rec);
      return rec;
    });
  }

  /** The agent if it belongs to `workspace`; another workspace's agent is indistinguishable from a missing one. */
  agent(workspace: string, id: string): AgentRecord | undefined {
    const rec = this.store.agents.get(id);
    return rec !== undefined && rec.workspace === workspace ? rec : undefined;
  }

  agents(workspace: string): AgentRecord[] {
    return [...this.store.agents.getRange({})].map((e) => e.value).filter((a) => a.workspace === workspace);
  }

  /** An agent by id in any workspace: for the hub's own routing checks, never for an API answer. */
  agentRecord(agentId: string): AgentRecord | undefined {
    return this.store.agents.get(agentId);
  }

  async createEnrollmentToken(workspace: string, agentId: string): Promise<{ token: string; expiresAt: string }> {
    const agent = this.agent(workspace, agentId);
    if (agent === undefined) throw new HubError('not-found', `no agent ${agentId}`);
    if (agent.revokedAt !== null) throw new HubError('conflict', `agent ${agentId} is revoked; create a new agent`);
    const { token, id, hash } = newToken(ENROLLMENT_TOKEN_PREFIX, this.ca.fingerprint);
    const expiresAt = new Date(Date.now() + this.options.enrollmentTtlMs).toISOString();
    await this.store.write(() => this.store.enrollments.putSync(id, { id, hash, agentId, workspace, expiresAt, usedAt: null }));
    return { token, expiresAt };
  }

  /** Spends a one-time token for a certificate on the agent's public key. */
  async enroll(token: string, agentId: string, publicKeyDer: Uint8Array, proof: Uint8Array): Promise<IssuedCredentials> {
    const parsed = parseToken(ENROLLMENT_TOKEN_PREFIX, token);
    if (parsed === null) throw new HubError('unauthenticated', 'the enrollment token is malformed');
    const rec = await this.store.write(() => {
      const t = this.store.enrollments.get(parsed.id);
      if (t === undefined || !secretMatches(parsed.secret, t.hash)) throw new HubError('unauthenticated', 'the enrollment token is not valid');
      if (t.usedAt !== null) throw new HubError('unauthenticated', 'the enrollment token was already used');
      if (Date.parse(t.expiresAt) < Date.now()) throw new HubError('unauthenticated', 'the enrollment token has expired');
      if (t.agentId !== agentId) throw new HubError('forbidden', `the enrollment token is for agent ${t.agentId}, not ${agentId}`);
      const agent = this.store.agents.get(t.agentId);
      if (agent === undefined || agent.revokedAt !== null) throw new HubError('forbidden', `agent ${t.agentId} is revoked`);
      // Checked last and inside the transaction: a bad key or proof aborts it and leaves the token unspent.
      checkPossession(parsed.id, publicKeyDer, proof);
      this.store.enrollments.putSync(parsed.id, { ...t, usedAt: new Date().toISOString() });
      return agent;
    });
    return this.issue(rec, publicKeyDer);
  }

  /** A new certificate for an agent that authenticated with its current one. */
  async renew(identity: AgentIdentity, publicKeyDer: Uint8Array, proof: Uint8Array): Promise<IssuedCredentials> {
    checkPossession(identity.fingerprint, publicKeyDer, proof);
    const agent = this.store.agents.get(identity.agentId);
    if (agent === undefined || agent.revokedAt !== null) throw new HubError('forbidden', `agent ${identity.agentId} is revoked`);
    return this.issue(agent, publicKeyDer);
  }

  private async issue(agent: AgentRecord, publicKeyDer: Uint8Array): Promise<IssuedCredentials> {
    let cert: X509Certificate;
    try {
      cert = this.ca.issueClient(agent.id, agent.workspace, publicKeyDer, this.options.certificateTtlMs);
    } catch (cause) {
      throw new HubError('bad-request', 'the public key must be an ECDSA P-256 SubjectPublicKeyInfo', { cause });
    }
    const fp = fingerprint(cert);
    const notAfter = new Date(cert.validTo);
    await this.store.write(() => {
      const current = this.store.agents.get(agent.id);
      if (current === undefined || current.revokedAt !== null) throw new HubError('forbidden', `agent ${agent.id} is revoked`);
      this.store.certificates.putSync(fp, { fingerprint: fp, agentId: agent.id, workspace: agent.workspace, serial: cert.serialNumber, notAfter: notAfter.toISOString(), issuedAt: new Date().toISOString() });
      this.store.agents.putSync(agent.id, { ...current, certificate: fp, certificateNotAfter: notAfter.toISOString() });
    });
    return { certificatePem: cert.toString(), caPem: this.ca.certPem, agentId: agent.id, workspace: agent.workspace, notAfter };
  }

  /**
   * The identity of a TLS peer whose chain OpenSSL already verified against
   * the CA. The certificate must also be one this hub issued (by
   * fingerprint), unexpired, and its agent not revoked.
   */
  identify(raw: Uint8Array | undefined): AgentIdentity {
    if (raw === undefined) throw new HubError('unauthenticated', 'no verified client certificate: enroll the agent first');
    const fp = fingerprint(raw);
    const cert = this.store.certificates.get(fp);
    if (cert === undefined) throw new HubError('unauthenticated', 'the client certificate was not issued by this hub');
    if (Date.parse(cert.notAfter) < Date.now()) throw new HubError('unauthenticated', 'the client certificate has expired');
    const agent = this.store.agents.get(cert.agentId);
    if (agent === undefined || agent.revokedAt !== null) throw new HubError('forbidden', `agent ${cert.agentId} is revoked`);
    return { agentId: cert.agentId, workspace: cert.workspace, fingerprint: fp, notAfter: Date.parse(cert.notAfter) };
  }

  /** Revokes an agent of `workspace`; connected streams are closed through the listeners. */
  async revokeAgent(workspace: string, id: string): Promise<AgentRecord> {
    const rec = await this.store.write(() => {
      const agent = this.store.agents.get(id);
      if (agent === undefined || agent.workspace !== workspace) throw new HubError('not-found', `no agent ${id}`);
      const revoked = { ...agent, revokedAt: agent.revokedAt ?? new Date().toISOString() };
      this.store.agents.putSync(id, revoked);
      return revoked;
    });
    for (const l of this.revokeListeners) l(id);
    return rec;
  }

  onRevoke(listener: (agentId: string) => void): void {
    this.revokeListeners.add(listener);
  }
}

function checkPossession(bindTo: string, publicKeyDer: Uint8Array, proof: Uint8Array): void {
  let ok = false;
  try {
    const key = createPublicKey({ key: Buffer.from(publicKeyDer), format: 'der', type: 'spki' });
    const hash = createHash('sha256').update(publicKeyDer).digest('hex');
    ok = verify('sha256', possessionMessage(bindTo, hash), key, proof);
  } catch (cause) {
    throw new HubError('bad-request', 'the public key is not a valid SubjectPublicKeyInfo', { cause });
  }
  if (!ok) throw new HubError('unauthenticated', 'the proof of key possession does not verify');
}
