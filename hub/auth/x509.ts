/**
 * Issues X.509 v3 certificates signed with ECDSA P-256 / SHA-256, for the
 * hub's CA, its server certificate and agents' client certificates. The
 * result is checked by Node's own parser before it is returned, so a bug
 * here fails loudly at issue time instead of in a TLS handshake.
 */
import { createHash, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { bitString, boolean, certificateSubject, explicit, implicitPrimitive, integer, octetString, oid, sequence, set, time, utf8String, type Der } from './der.js';

const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const OID = {
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  organizationalUnit: '2.5.4.11',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

export interface DistinguishedName {
  readonly commonName: string;
  readonly organization?: string;
  readonly organizationalUnit?: string;
}

export type CertificateRole = 'ca' | 'server' | 'client';

export interface CertificateRequest {
  readonly role: CertificateRole;
  readonly subject: DistinguishedName;
  /** The subject's public key (only the public half ever reaches the issuer). */
  readonly publicKey: KeyObject;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** DNS names and IP addresses (server certificates). */
  readonly altNames?: readonly string[];
  /** Omitted for a self-signed CA. */
  readonly issuer?: X509Certificate;
  /** Key that signs: the CA's private key (or the subject's own for a self-signed CA). */
  readonly signingKey: KeyObject;
}

function name(dn: DistinguishedName): Der {
  const rdn = (type: string, value: string): Der => set(sequence(oid(type), utf8String(value)));
  const parts = [];
  if (dn.organization !== undefined) parts.push(rdn(OID.organization, dn.organization));
  if (dn.organizationalUnit !== undefined) parts.push(rdn(OID.organizationalUnit, dn.organizationalUnit));
  parts.push(rdn(OID.commonName, dn.commonName));
  return sequence(...parts);
}

function extension(id: string, critical: boolean, value: Der): Der {
  return critical ? sequence(oid(id), boolean(true), octetString(value)) : sequence(oid(id), octetString(value));
}

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
function keyIdentifier(spki: Uint8Array): Uint8Array {
  return createHash('sha1').update(spki).digest();
}

function altName(n: string): Der {
  if (isIP(n) === 4) return implicitPrimitive(7, Uint8Array.from(n.split('.').map(Number)));
  if (isIP(n) === 6) {
    const full = n.includes('::') ? expandV6(n) : n.split(':');
    const bytes = full.flatMap((h) => {
      const v = parseInt(h, 16);
      return [v >> 8, v & 0xff];
    });
    return implicitPrimitive(7, Uint8Array.from(bytes));
  }
  return implicitPrimitive(2, new TextEncoder().encode(n));
}

function expandV6(n: string): string[] {
  const [head = '', tail = ''] = n.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === '' ? [] : tail.split(':');
  return [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
}

function extensions(req: CertificateRequest, spki: Uint8Array): Der {
  const list: Der[] = [];
  const isCa = req.role === 'ca';
  list.push(extension(OID.basicConstraints, true, isCa ? sequence(boolean(true), integer(0n)) : sequence()));
  // keyUsage bits: digitalSignature = bit 0; keyCertSign = bit 5, cRLSign = bit 6.
  list.push(extension(OID.keyUsage, true, isCa ? bitString(Uint8Array.of(0x06), 1) : bitString(Uint8Array.of(0x80), 7)));
  if (!isCa) list.push(extension(OID.extKeyUsage, false, sequence(oid(req.role === 'server' ? OID.serverAuth : OID.clientAuth))));
  if (req.altNames !== undefined && req.altNames.length > 0) list.push(extension(OID.subjectAltName, false, sequence(...req.altNames.map(altName))));
  list.push(extension(OID.subjectKeyIdentifier, false, octetString(keyIdentifier(spki))));
  if (req.issuer !== undefined) {
    const issuerSpki = subjectPublicKeyBits(req.issuer.publicKey);
    list.push(extension(OID.authorityKeyIdentifier, false, sequence(implicitPrimitive(0, keyIdentifier(issuerSpki)))));
  }
  return explicit(3, sequence(...list));
}

/** The BIT STRING contents of a SubjectPublicKeyInfo (for an EC key: the uncompressed point). */
function subjectPublicKeyBits(key: KeyObject): Uint8Array {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.kty !== 'EC' || jwk.x === undefined || jwk.y === undefined) throw new TypeError('only EC public keys are supported');
  return Buffer.concat([Buffer.of(0x04), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
}

/** A random positive 127-bit serial (RFC 5280: at most 20 octets, unique per CA). */
export function randomSerial(): bigint {
  const b = randomBytes(16);
  b[0] = (b[0] ?? 0) & 0x7f;
  return BigInt(`0x${b.toString('hex')}`);
}

export function issueCertificate(req: CertificateRequest): X509Certificate {
  if (req.publicKey.asymmetricKeyType !== 'ec') throw new TypeError('certificates are issued for EC (P-256) keys only');
  const spkiDer = req.publicKey.export({ type: 'spki', format: 'der' });
  const algorithm = sequence(oid(ECDSA_WITH_SHA256));
  const tbs = sequence(
    explicit(0, integer(2n)),
    integer(randomSerial()),
    algorithm,
    req.issuer === undefined ? name(req.subject) : certificateSubject(req.issuer.raw),
    sequence(time(req.notBefore), time(req.notAfter)),
    name(req.subject),
    spkiDer,
    extensions(req, subjectPublicKeyBits(req.publicKey)),
  );
  const signature = sign('sha256', tbs, req.signingKey);
  const der = sequence(tbs, algorithm, bitString(signature));
  return new X509Certificate(Buffer.from(der));
}

/** SHA-256 of the DER certificate, lower-case hex: the identity the hub stores and agents pin. */
export function fingerprint(cert: X509Certificate | Uint8Array): string {
  const raw = cert instanceof X509Certificate ? cert.raw : cert;
  return createHash('sha256').update(raw).digest('hex');
}
