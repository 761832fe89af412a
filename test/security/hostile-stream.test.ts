/**
 * Hostile input on the agent stream, over real mutual TLS: each case gets a
 * clear Reject code (or gRPC status), the hub stays up, and the data of a
 * well-behaved agent is untouched. Prints the case counts.
 */
import assert from 'node:assert/strict';
import { create, toBinary } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EnrollRequestSchema } from '../../proto/gen/tributary/v1/enrollment_pb.js';
import { ENROLL_PATH, RENEW_PATH } from '../../proto/tributary/v1/enrollment-service.js';
import { issueCertificate } from '../../hub/auth/x509.js';
import { tempDir } from '../support/pipeline.js';
import { batchBytes, CaseLog, createEnrollmentToken, enrollAgent, enrollWithToken, helloBytes, RawStream, startSecureHub, type SecureHub } from './support.js';
import type { AgentTls } from '../../agent/enroll/agent-tls.js';

const ACME = 'acme-admin-token-0123456789abcdef0123456789';
const GLOBEX = 'globex-admin-token-0123456789abcdef0123456789';

describe('hostile input on the agent stream (mutual TLS)', () => {
  const cases = new CaseLog();
  let dir: string;
  let hub: SecureHub;
  let good: AgentTls;
  let other: AgentTls;
  let foreign: AgentTls;
  let globex: AgentTls;
  let caPem: string;

  before(async () => {
    dir = tempDir('security-stream');
    hub = await startSecureHub(dir, {
      adminTokens: [
        { workspace: 'acme', token: ACME },
        { workspace: 'globex', token: GLOBEX },
      ],
      pipelines: [
        { name: 'acme-main', workspace: 'acme', agent: 'edge-a', source: 'db', sinks: [] },
        // Misrouted on purpose: a globex pipeline naming an acme agent.
        { name: 'stolen', workspace: 'globex', agent: 'edge-c', source: 'db', sinks: [] },
      ],
    });
    good = await enrollAgent(hub, ACME, 'edge-a', join(dir, 'cred-a'));
    other = await enrollAgent(hub, ACME, 'edge-b', join(dir, 'cred-b'));
    foreign = await enrollAgent(hub, ACME, 'edge-c', join(dir, 'cred-c'));
    globex = await enrollAgent(hub, GLOBEX, 'edge-g', join(dir, 'cred-g'));
    caPem = readFileSync(join(hub.securityDir, 'ca.pem'), 'utf8');
  });

  after(async () => {
    process.stdout.write(`${cases.summary('agent stream')}\n  ${cases.lines.join('\n  ')}\n`);
    await hub.hub.stop();
  });

  async function acked(): Promise<number> {
    const r = await hub.http('/v1/pipelines', ACME);
    const p = ((await r.json()) as { pipelines: { name: string; ingest: { ackedSequence: number } }[] }).pipelines.find((x) => x.name === 'acme-main');
    return p?.ingest.ackedSequence ?? -1;
  }

  async function expect(name: string, creds: grpc.ChannelCredentials, steps: Uint8Array[], code: string): Promise<void> {
    const s = new RawStream(hub.address, creds);
    try {
      for (const b of steps) s.write(b);
      const got = await s.rejection();
      cases.record(name, got);
      assert.equal(got, code, name);
    } finally {
      s.close();
    }
    const health = await hub.http('/healthz', null);
    if (health.status !== 200) cases.crashes++;
    assert.equal(health.status, 200, `hub alive after ${name}`);
  }

  it('accepts a well-behaved agent, with unknown fields ignored', async () => {
    const s = new RawStream(hub.address, good.channel());
    s.write(helloBytes('edge-a'));
    const welcome = await s.next();
    assert.ok('message' in welcome && welcome.message.body.case === 'welcome');
    // Unknown field 99 in AgentMessage and field 42 in ChangeBatch: a newer agent's additions.
    const { batch } = batchBytes(1);
    const withUnknown = Buffer.concat([Buffer.from([0x12]), encodeLength(batch.length + 3), batch, Buffer.from([0xd0, 0x02, 0x01]), Buffer.from([0x98, 0x06, 0x07])]);
    s.write(withUnknown);
    const ack = await s.next();
    cases.record('unknown fields', 'message' in ack ? (ack.message.body.case ?? 'none') : 'error');
    assert.ok('message' in ack && ack.message.body.case === 'ack' && ack.message.body.value.sequence === 1n);
    s.write(batchBytes(2).message);
    const ack2 = await s.next();
    assert.ok('message' in ack2 && ack2.message.body.case === 'ack');
    s.close();
    assert.equal(await acked(), 2);
  });

  it('refuses malformed, truncated, oversized and out-of-order messages', async () => {
    const hello = helloBytes('edge-a');
    const full = batchBytes(3).message;
    await expect('garbage bytes', good.channel(), [Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f)], 'MALFORMED');
    await expect('truncated batch', good.channel(), [hello, full.subarray(0, full.length - 5)], 'MALFORMED');
    await expect('wrong wire type in a batch', good.channel(), [hello, Uint8Array.of(0x12, 0x02, 0x0a, 0x05)], 'MALFORMED');
    await expect('event with a wrong wire type', good.channel(), [hello, Uint8Array.of(0x12, 0x06, 0x08, 0x03, 0x1a, 0x02, 0x18, 0x01).map((b, i) => (i === 6 ? 0x1a : b))], 'MALFORMED');
    await expect('heartbeat with a truncated varint', good.channel(), [hello, Uint8Array.of(0x1a, 0x02, 0x08, 0xff)], 'MALFORMED');
    await expect('sequence zero', good.channel(), [hello, batchBytes(0).message], 'MALFORMED');
    await expect('message over maxMessageBytes', good.channel(), [hello, new Uint8Array(200 * 1024).fill(0x41)], 'grpc:RESOURCE_EXHAUSTED');
    await expect('batch before Hello', good.channel(), [full], 'PROTOCOL');
    await expect('two Hellos', good.channel(), [hello, hello], 'PROTOCOL');
    await expect('Hello with a hostile agent id', good.channel(), [helloBytes('edge-a/../../x"; DROP')], 'BAD_HELLO');
    await expect('Hello with a hostile source id', good.channel(), [helloBytes('edge-a', 'db/../x\u0000')], 'BAD_HELLO');
    await expect('sequence gap', good.channel(), [hello, batchBytes(5).message], 'SEQUENCE_GAP');
    await expect('sequence replayed with different content', good.channel(), [hello, batchBytes(2, 'other row').message], 'SEQUENCE_CONFLICT');
    assert.equal(await acked(), 2, 'nothing was stored by refused messages');
  });

  it('refuses missing, foreign, expired, mismatched and revoked credentials', async () => {
    const hello = helloBytes('edge-a');
    await expect('no client certificate', grpc.credentials.createSsl(Buffer.from(caPem)), [hello], 'UNAUTHENTICATED');
    // A certificate from a CA the hub never trusted, naming the same agent.
    const rogueCa = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const now = Date.now();
    const rogue = issueCertificate({ role: 'ca', subject: { commonName: 'rogue' }, publicKey: rogueCa.publicKey, signingKey: rogueCa.privateKey, notBefore: new Date(now - 60_000), notAfter: new Date(now + 3_600_000) });
    const k = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const forged = issueCertificate({ role: 'client', subject: { commonName: 'edge-a', organization: 'acme' }, publicKey: k.publicKey, signingKey: rogueCa.privateKey, issuer: rogue, notBefore: new Date(now - 60_000), notAfter: new Date(now + 3_600_000) });
    const keyPem = Buffer.from(k.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    await expect('certificate from a foreign CA', grpc.credentials.createSsl(Buffer.from(caPem), keyPem, Buffer.from(forged.toString())), [hello], 'UNAUTHENTICATED');
    // Signed by the hub's own CA key but expired (as if kept past its lifetime).
    const hubCa = new X509Certificate(caPem);
    const caKey = createPrivateKey(readFileSync(join(hub.securityDir, 'ca.key')));
    const expired = issueCertificate({ role: 'client', subject: { commonName: 'edge-a', organization: 'acme' }, publicKey: k.publicKey, signingKey: caKey, issuer: hubCa, notBefore: new Date(now - 7_200_000), notAfter: new Date(now - 3_600_000) });
    await expect('expired certificate', grpc.credentials.createSsl(Buffer.from(caPem), keyPem, Buffer.from(expired.toString())), [hello], 'UNAUTHENTICATED');
    // Valid signature by the hub CA, but never issued through enrollment (e.g. a stolen CA key used offline).
    const unissued = issueCertificate({ role: 'client', subject: { commonName: 'edge-a', organization: 'acme' }, publicKey: k.publicKey, signingKey: caKey, issuer: hubCa, notBefore: new Date(now - 60_000), notAfter: new Date(now + 3_600_000) });
    await expect('certificate the hub never issued', grpc.credentials.createSsl(Buffer.from(caPem), keyPem, Buffer.from(unissued.toString())), [hello], 'UNAUTHENTICATED');
    await expect("another agent's certificate claiming edge-a", other.channel(), [hello], 'IDENTITY_MISMATCH');
    await expect("another workspace's certificate claiming edge-a", globex.channel(), [hello], 'IDENTITY_MISMATCH');
    await expect("a pipeline of another workspace routing this agent", foreign.channel(), [helloBytes('edge-c')], 'WORKSPACE_MISMATCH');
    assert.equal(await acked(), 2);
  });

  it('a revoked agent is disconnected at once and refused from then on', async () => {
    const live = new RawStream(hub.address, other.channel());
    live.write(helloBytes('edge-b'));
    const welcome = await live.next();
    assert.ok('message' in welcome && welcome.message.body.case === 'welcome');
    // Another workspace cannot revoke it.
    const wrong = await hub.http('/v1/agents/edge-b/revoke', GLOBEX, { method: 'POST' });
    assert.equal(wrong.status, 404);
    const r = await hub.http('/v1/agents/edge-b/revoke', ACME, { method: 'POST' });
    assert.equal(r.status, 200);
    const code = await live.rejection();
    live.close();
    cases.record('revoked while connected', code);
    assert.equal(code, 'REVOKED');
    await expect('revoked agent reconnecting', other.channel(), [helloBytes('edge-b')], 'REVOKED');
  });

  it('refuses enrollment abuse: reused, forged and malformed tokens, renewal without a certificate', async () => {
    const client = new grpc.Client(hub.address, grpc.credentials.createSsl(Buffer.from(caPem)));
    const unary = (path: string, body: Uint8Array): Promise<string> =>
      new Promise((resolve) => {
        client.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, Buffer.from(body), new grpc.Metadata(), { deadline: Date.now() + 20_000 }, (err) => resolve(err === null ? 'OK' : (grpc.status[err.code] ?? String(err.code))));
      });
    const token = await createEnrollmentToken(hub, ACME, 'edge-d');
    const enroll = (t: string): Uint8Array => toBinary(EnrollRequestSchema, create(EnrollRequestSchema, { token: t, agentId: 'edge-d', publicKey: new Uint8Array(10), proof: new Uint8Array(10) }));
    const attempts: [string, string, Uint8Array, string][] = [
      ['enroll: malformed protobuf', ENROLL_PATH, Uint8Array.of(0xff, 0xff, 0xff), 'INVALID_ARGUMENT'],
      ['enroll: garbage token', ENROLL_PATH, enroll('not-a-token'), 'UNAUTHENTICATED'],
      ['enroll: forged secret', ENROLL_PATH, enroll(token.replace(/\.([0-9a-f]{64})\./, `.${'0'.repeat(64)}.`)), 'UNAUTHENTICATED'],
      ['enroll: token of another agent', ENROLL_PATH, toBinary(EnrollRequestSchema, create(EnrollRequestSchema, { token, agentId: 'edge-a' })), 'PERMISSION_DENIED'],
      ['enroll: right token, key that is not a key', ENROLL_PATH, enroll(token), 'INVALID_ARGUMENT'],
      ['renew: no client certificate', RENEW_PATH, new Uint8Array(0), 'UNAUTHENTICATED'],
    ];
    for (const [name, path, body, want] of attempts) {
      const got = await unary(path, body);
      cases.record(name, got);
      assert.equal(got, want, name);
    }
    client.close();
    // A token whose CA pin does not match what the hub presents (a man in the middle, or a wrong address): the agent refuses before sending anything.
    const wrongPin = token.replace(/[0-9a-f]{64}$/, 'e'.repeat(64));
    const mitm = await enrollWithToken(hub, wrongPin, 'edge-d', join(dir, 'cred-mitm')).then(
      () => 'OK',
      (e: Error) => e.message,
    );
    cases.record('enroll: CA pin does not match', mitm);
    assert.match(mitm, /did not present the CA pinned in the enrollment token/);
    // The real agent flow spends the token; a second use is refused.
    await enrollWithToken(hub, token, 'edge-d', join(dir, 'cred-d'));
    assert.equal(statSync(join(dir, 'cred-d', 'agent.key')).mode & 0o077, 0, 'the private key is readable by its owner only');
    const again = await enrollWithToken(hub, token, 'edge-d', join(dir, 'cred-d2')).then(
      () => 'OK',
      (e: Error) => e.message,
    );
    cases.record('enroll: token reused', again);
    assert.match(again, /UNAUTHENTICATED: the enrollment token was already used/);
  });

  it('survives 150 randomly mutated batches (bit flips, truncations, splices) on a separate source', async () => {
    let seed = 42;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const outcomes = new Map<string, number>();
    for (let i = 0; i < 150; i++) {
      const m = Buffer.from(batchBytes(1 + rand(3), `fuzz-${i}`).message);
      const kind = rand(3);
      let bytes: Buffer;
      if (kind === 0) {
        bytes = Buffer.from(m);
        for (let f = 0; f <= rand(4); f++) {
          const at = rand(bytes.length);
          bytes[at] = (bytes[at] ?? 0) ^ (1 << rand(8));
        }
      } else if (kind === 1) bytes = m.subarray(0, rand(m.length));
      else bytes = Buffer.concat([m.subarray(0, rand(m.length)), Buffer.from(Array.from({ length: 1 + rand(40) }, () => rand(256)))]);
      const s = new RawStream(hub.address, good.channel());
      s.write(helloBytes('edge-a', 'fuzz'));
      s.write(bytes);
      s.write(helloBytes('edge-a', 'fuzz')); // a second Hello always ends the stream, so every case gets an answer
      let outcome = '';
      for (let n = 0; n < 4 && outcome === ''; n++) {
        const e = await s.next();
        if ('message' in e && e.message.body.case === 'reject') outcome = e.message.body.value.code;
        else if ('error' in e) outcome = `grpc:${grpc.status[e.error.code] ?? e.error.code}`;
        else if ('end' in e) outcome = 'end';
      }
      s.close();
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      cases.tried++;
      if (outcome.startsWith('grpc:INTERNAL') || outcome.startsWith('grpc:UNKNOWN')) cases.crashes++;
    }
    cases.lines.push(`150 mutated batches: ${[...outcomes].map(([k, v]) => `${k} ${v}`).join(', ')}`);
    assert.equal((await hub.http('/healthz', null)).status, 200);
    assert.equal(await acked(), 2, 'the good source is untouched');
    for (const k of outcomes.keys()) assert.match(k, /^(MALFORMED|PROTOCOL|SEQUENCE_GAP|SEQUENCE_CONFLICT|grpc:RESOURCE_EXHAUSTED)$/, `unexpected outcome ${k}`);
  });

  it('after all of it the hub still serves the good agent, which resumes where it was', async () => {
    const s = new RawStream(hub.address, good.channel());
    s.write(helloBytes('edge-a'));
    const welcome = await s.next();
    assert.ok('message' in welcome && welcome.message.body.case === 'welcome' && welcome.message.body.value.ackedSequence === 2n);
    s.write(batchBytes(3).message);
    const ack = await s.next();
    assert.ok('message' in ack && ack.message.body.case === 'ack' && ack.message.body.value.sequence === 3n);
    s.close();
    assert.equal(cases.crashes, 0);
  });
});

function encodeLength(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

describe('a stream that outlives its certificate', () => {
  it('is closed with UNAUTHENTICATED when the certificate expires', async () => {
    const dir = tempDir('security-expiry');
    const hub = await startSecureHub(dir, { adminTokens: [{ workspace: 'acme', token: ACME }], certificateTtlSeconds: 10 });
    try {
      const agent = await enrollAgent(hub, ACME, 'edge-e', join(dir, 'cred-e'));
      const s = new RawStream(hub.address, agent.channel());
      s.write(helloBytes('edge-e'));
      const welcome = await s.next();
      assert.ok('message' in welcome && welcome.message.body.case === 'welcome');
      const started = Date.now();
      const code = await s.rejection(30_000);
      s.close();
      assert.equal(code, 'UNAUTHENTICATED');
      assert.ok(Date.now() - started >= 5_000, 'closed at expiry, not before');
    } finally {
      await hub.hub.stop();
    }
  });
});
