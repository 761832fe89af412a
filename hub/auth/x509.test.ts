import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { describe, it } from 'node:test';
import { integer, oid, time } from './der.js';
import { fingerprint, issueCertificate } from './x509.js';

const ec = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('DER encoding', () => {
  it('encodes INTEGERs minimally with a sign byte when the high bit is set', () => {
    assert.equal(hex(integer(0n)), '020100');
    assert.equal(hex(integer(127n)), '02017f');
    assert.equal(hex(integer(128n)), '02020080');
    assert.equal(hex(integer(256n)), '02020100');
    assert.equal(hex(integer(Uint8Array.of(0, 0, 0x80))), '02020080');
  });
  it('encodes OIDs with base-128 arcs', () => {
    assert.equal(hex(oid('1.2.840.10045.4.3.2')), '06082a8648ce3d040302');
    assert.equal(hex(oid('2.5.29.19')), '0603551d13');
  });
  it('uses UTCTime before 2050 and GeneralizedTime after', () => {
    assert.equal(Buffer.from(time(new Date('2030-01-02T03:04:05Z')).slice(2)).toString(), '300102030405Z');
    assert.equal(Buffer.from(time(new Date('2051-01-02T03:04:05Z')).slice(2)).toString(), '20510102030405Z');
  });
  it('encodes long lengths in long form', () => {
    const long = integer(new Uint8Array(300).fill(1));
    assert.equal(hex(long.slice(0, 4)), '0282012c');
  });
});

describe('X.509 issuing', () => {
  const caKeys = ec();
  const now = new Date();
  const later = new Date(now.getTime() + 3600_000);
  const caName = { commonName: 'Test CA', organization: 'Tributary' };
  const ca = issueCertificate({ role: 'ca', subject: caName, publicKey: caKeys.publicKey, signingKey: caKeys.privateKey, notBefore: now, notAfter: later });
  const issuer = ca;

  it('issues a self-signed CA that Node parses and verifies', () => {
    assert.equal(ca.ca, true);
    assert.ok(ca.verify(caKeys.publicKey));
    assert.match(ca.subject, /CN=Test CA/);
    assert.equal(fingerprint(ca).length, 64);
  });

  it('issues client and server certificates that chain to the CA', () => {
    const k = ec();
    const client = issueCertificate({ role: 'client', subject: { commonName: 'agent-1', organization: 'acme' }, publicKey: k.publicKey, signingKey: caKeys.privateKey, issuer, notBefore: now, notAfter: later });
    assert.equal(client.ca, false);
    assert.ok(client.checkIssued(ca));
    assert.equal(client.issuer, ca.subject);
    assert.ok(client.verify(caKeys.publicKey));
    assert.match(client.subject, /CN=agent-1/);
    assert.match(client.subject, /O=acme/);
    const server = issueCertificate({ role: 'server', subject: { commonName: 'hub' }, publicKey: k.publicKey, signingKey: caKeys.privateKey, issuer, notBefore: now, notAfter: later, altNames: ['localhost', '127.0.0.1', '::1'] });
    assert.equal(server.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    assert.ok(server.checkHost('localhost'));
    assert.ok(server.checkIP('127.0.0.1'));
  });

  it('completes a mutual TLS handshake with OpenSSL verifying both chains', async () => {
    const sk = ec();
    const ck = ec();
    const server = issueCertificate({ role: 'server', subject: { commonName: 'hub' }, publicKey: sk.publicKey, signingKey: caKeys.privateKey, issuer, notBefore: now, notAfter: later, altNames: ['localhost'] });
    const client = issueCertificate({ role: 'client', subject: { commonName: 'agent-1' }, publicKey: ck.publicKey, signingKey: caKeys.privateKey, issuer, notBefore: now, notAfter: later });
    const pem = (k: typeof sk.privateKey): string => k.export({ type: 'pkcs8', format: 'pem' }).toString();
    const srv = createServer({ key: pem(sk.privateKey), cert: server.toString(), ca: ca.toString(), requestCert: true, rejectUnauthorized: true });
    const seen: string[] = [];
    srv.on('secureConnection', (s: TLSSocket) => {
      seen.push(String(s.getPeerCertificate().subject.CN));
      s.end();
    });
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    const port = (srv.address() as { port: number }).port;
    const sock = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: ca.toString(), key: pem(ck.privateKey), cert: client.toString() });
    await once(sock, 'secureConnect');
    assert.equal(sock.authorized, true, String(sock.authorizationError));
    sock.resume();
    await once(sock, 'end');
    srv.close();
    assert.deepEqual(seen, ['agent-1']);
  });
});
