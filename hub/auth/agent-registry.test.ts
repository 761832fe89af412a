import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign, X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { possessionMessage } from '../../proto/tributary/v1/enrollment-service.js';
import { HubError } from '../errors.js';
import { AgentRegistry } from './agent-registry.js';
import { ApiTokens } from './api-tokens.js';
import { CertificateAuthority } from './ca.js';
import { HubStateStore } from './state-store.js';
import { hashSecret } from './tokens.js';

function agentKey(bindTo: string) {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const der = publicKey.export({ type: 'spki', format: 'der' });
  const proof = sign('sha256', possessionMessage(bindTo, createHash('sha256').update(der).digest('hex')), privateKey);
  return { der, proof, privateKey };
}

const tokenId = (t: string): string => t.split('.')[1] ?? '';

async function refused(p: Promise<unknown>, kind: string, message: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof HubError && e.kind === kind && message.test(e.message));
}

describe('agent registry', () => {
  let dir: string;
  let store: HubStateStore;
  let registry: AgentRegistry;
  let shortLived: AgentRegistry;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tributary-registry-'));
    store = new HubStateStore(join(dir, 'state'));
    const ca = CertificateAuthority.open(dir, null, 'hub-test');
    registry = new AgentRegistry(store, ca, { certificateTtlMs: 3_600_000, enrollmentTtlMs: 60_000 });
    shortLived = new AgentRegistry(store, ca, { certificateTtlMs: 3_600_000, enrollmentTtlMs: -1 });
  });
  after(async () => {
    await store[Symbol.asyncDispose]();
    rmSync(dir, { recursive: true, force: true });
  });

  it('generates the CA on first start with a private key file only the hub user can read', () => {
    assert.equal(statSync(join(dir, 'ca.key')).mode & 0o077, 0);
    const again = CertificateAuthority.open(dir, null, 'hub-test');
    assert.equal(again.fingerprint, registry.ca.fingerprint);
  });

  it('enrolls once with a token; the certificate names agent and workspace', async () => {
    await registry.createAgent('acme', 'edge-1');
    const { token } = await registry.createEnrollmentToken('acme', 'edge-1');
    assert.ok(token.endsWith(`.${registry.ca.fingerprint}`), 'the token pins the CA');
    const k = agentKey(tokenId(token));
    const c = await registry.enroll(token, 'edge-1', k.der, k.proof);
    assert.equal(c.agentId, 'edge-1');
    assert.equal(c.workspace, 'acme');
    const cert = new X509Certificate(c.certificatePem);
    assert.match(cert.subject, /CN=edge-1/);
    assert.match(cert.subject, /O=acme/);
    assert.ok(cert.checkPrivateKey(k.privateKey));
    const id = registry.identify(cert.raw);
    assert.deepEqual({ agent: id.agentId, ws: id.workspace }, { agent: 'edge-1', ws: 'acme' });
    await refused(registry.enroll(token, 'edge-1', k.der, k.proof), 'unauthenticated', /already used/);
  });

  it('refuses expired, forged, wrong-agent and malformed tokens, and a bad proof of possession', async () => {
    await registry.createAgent('acme', 'edge-2');
    const expired = (await shortLived.createEnrollmentToken('acme', 'edge-2')).token;
    const k = agentKey(tokenId(expired));
    await refused(registry.enroll(expired, 'edge-2', k.der, k.proof), 'unauthenticated', /expired/);
    const good = (await registry.createEnrollmentToken('acme', 'edge-2')).token;
    const parts = good.split('.');
    const forged = [parts[0], parts[1], 'f'.repeat(64), parts[3]].join('.');
    const kf = agentKey(tokenId(forged));
    await refused(registry.enroll(forged, 'edge-2', kf.der, kf.proof), 'unauthenticated', /not valid/);
    const kg = agentKey(tokenId(good));
    await refused(registry.enroll(good, 'edge-1', kg.der, kg.proof), 'forbidden', /for agent edge-2/);
    await refused(registry.enroll('tre1.nope', 'edge-2', kg.der, kg.proof), 'unauthenticated', /malformed/);
    const other = agentKey(tokenId(good));
    await refused(registry.enroll(good, 'edge-2', kg.der, other.proof), 'unauthenticated', /proof/);
    await refused(registry.enroll(good, 'edge-2', Buffer.from('not a key'), kg.proof), 'bad-request', /SubjectPublicKeyInfo/);
  });

  it('keeps workspaces apart: another workspace sees no agent and cannot revoke or enroll it', async () => {
    await registry.createAgent('acme', 'edge-3');
    assert.equal(registry.agent('other', 'edge-3'), undefined);
    assert.deepEqual(registry.agents('other').map((a) => a.id), []);
    await refused(registry.createEnrollmentToken('other', 'edge-3'), 'not-found', /no agent/);
    await refused(registry.revokeAgent('other', 'edge-3'), 'not-found', /no agent/);
    await refused(registry.createAgent('other', 'edge-3'), 'conflict', /exists/);
  });

  it('revokes: the certificate stops identifying, renewal and new tokens are refused, listeners hear it', async () => {
    await registry.createAgent('acme', 'edge-4');
    const { token } = await registry.createEnrollmentToken('acme', 'edge-4');
    const k = agentKey(tokenId(token));
    const c = await registry.enroll(token, 'edge-4', k.der, k.proof);
    const raw = new X509Certificate(c.certificatePem).raw;
    const heard: string[] = [];
    registry.onRevoke((id) => heard.push(id));
    await registry.revokeAgent('acme', 'edge-4');
    assert.deepEqual(heard, ['edge-4']);
    assert.throws(() => registry.identify(raw), (e: unknown) => e instanceof HubError && e.kind === 'forbidden');
    await refused(registry.createEnrollmentToken('acme', 'edge-4'), 'conflict', /revoked/);
  });

  it('renews for an identified agent with a new key; both certificates identify until the old expires', async () => {
    await registry.createAgent('acme', 'edge-5');
    const { token } = await registry.createEnrollmentToken('acme', 'edge-5');
    const k = agentKey(tokenId(token));
    const first = await registry.enroll(token, 'edge-5', k.der, k.proof);
    const id = registry.identify(new X509Certificate(first.certificatePem).raw);
    const k2 = agentKey(id.fingerprint);
    const second = await registry.renew(id, k2.der, k2.proof);
    assert.notEqual(second.certificatePem, first.certificatePem);
    assert.equal(registry.identify(new X509Certificate(second.certificatePem).raw).agentId, 'edge-5');
    assert.equal(registry.identify(new X509Certificate(first.certificatePem).raw).agentId, 'edge-5');
    await refused(registry.renew(id, k2.der, agentKey('other').proof), 'unauthenticated', /proof/);
  });

  it('API tokens: stored hashed, scoped to a workspace, revocable, one answer for every bad token', async () => {
    const bootstrap = 'b'.repeat(40);
    const tokens = new ApiTokens(store, [{ workspace: 'acme', hash: hashSecret(bootstrap) }]);
    assert.deepEqual(tokens.authenticate(bootstrap), { workspace: 'acme', scope: 'admin', tokenId: 'bootstrap' });
    const { token, record } = await tokens.create('acme', 'read', 'dashboards');
    assert.equal('hash' in record, false);
    assert.deepEqual(tokens.authenticate(token), { workspace: 'acme', scope: 'read', tokenId: record.id });
    assert.equal(tokens.authenticate(token.slice(0, -1) + (token.endsWith('0') ? '1' : '0')), null);
    assert.equal(tokens.authenticate('trb1.x.y'), null);
    assert.equal(tokens.authenticate(''), null);
    assert.deepEqual(tokens.list('other'), []);
    await refused(tokens.revoke('other', record.id), 'not-found', /no token/);
    await tokens.revoke('acme', record.id);
    assert.equal(tokens.authenticate(token), null);
    // The secret is nowhere in the store's files.
    const secret = token.split('.')[2] ?? '';
    for (const f of readdirSync(join(dir, 'state'))) assert.equal(readFileSync(join(dir, 'state', f)).includes(secret), false, f);
  });
});
