/**
 * The hub's certificate authority: generated on first start into the state
 * directory (key file mode 0600), or supplied as PEM files. It signs the
 * hub's own server certificate (made fresh at every start) and agents'
 * client certificates.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { HubError } from '../errors.js';
import { fingerprint, issueCertificate, type DistinguishedName } from './x509.js';

const CA_DAYS = 3650;
const SERVER_DAYS = 365;
const DAY_MS = 86_400_000;

export interface SuppliedCa {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface ServerIdentity {
  readonly certPem: string;
  readonly keyPem: string;
}

export class CertificateAuthority {
  readonly fingerprint: string;
  readonly certPem: string;

  private constructor(
    readonly certificate: X509Certificate,
    private readonly key: KeyObject,
  ) {
    this.fingerprint = fingerprint(certificate);
    this.certPem = certificate.toString();
  }

  /** Loads the supplied CA, else the one in `dir`, else generates and saves one there. */
  static open(dir: string, supplied: SuppliedCa | null, hubId: string): CertificateAuthority {
    if (supplied !== null) return CertificateAuthority.load(supplied.certFile, supplied.keyFile);
    const certFile = join(dir, 'ca.pem');
    const keyFile = join(dir, 'ca.key');
    if (existsSync(certFile)) return CertificateAuthority.load(certFile, keyFile);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const now = Date.now();
    const subject = { commonName: `Tributary hub CA (${hubId})`, organization: 'Tributary' };
    const cert = issueCertificate({ role: 'ca', subject, publicKey, signingKey: privateKey, notBefore: new Date(now - 60_000), notAfter: new Date(now + CA_DAYS * DAY_MS) });
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(certFile, cert.toString());
    return new CertificateAuthority(cert, privateKey);
  }

  private static load(certFile: string, keyFile: string): CertificateAuthority {
    let cert: X509Certificate;
    let key: KeyObject;
    try {
      cert = new X509Certificate(readFileSync(certFile));
      key = createPrivateKey(readFileSync(keyFile));
    } catch (cause) {
      throw new HubError('config', `cannot read the CA certificate ${certFile} or key ${keyFile}`, { cause });
    }
    if (!cert.ca) throw new HubError('config', `${certFile} is not a CA certificate (basicConstraints CA:TRUE missing)`);
    if (!cert.checkPrivateKey(key)) throw new HubError('config', `${keyFile} is not the private key of ${certFile}`);
    if (key.asymmetricKeyType !== 'ec') throw new HubError('config', `the CA key must be ECDSA (P-256); ${keyFile} is ${key.asymmetricKeyType ?? 'unknown'}`);
    return new CertificateAuthority(cert, key);
  }

  /** A fresh server key and certificate for the gRPC listener, valid for `names`. */
  serverIdentity(names: readonly string[]): ServerIdentity {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const altNames = [...new Set([...names, 'localhost', '127.0.0.1', '::1', hostname()])];
    const now = Date.now();
    const cert = this.issue('server', { commonName: names[0] ?? 'tributary-hub' }, publicKey, new Date(now - 60_000), new Date(now + SERVER_DAYS * DAY_MS), altNames);
    return { certPem: `${cert.toString()}${this.certPem}`, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
  }

  /** A client certificate: CN = agent id, O = workspace. */
  issueClient(agentId: string, workspace: string, publicKeyDer: Uint8Array, validMs: number): X509Certificate {
    const publicKey = createPublicKey({ key: Buffer.from(publicKeyDer), format: 'der', type: 'spki' });
    const now = Date.now();
    return this.issue('client', { commonName: agentId, organization: workspace }, publicKey, new Date(now - 60_000), new Date(now + validMs));
  }

  private issue(role: 'server' | 'client', subject: DistinguishedName, publicKey: KeyObject, notBefore: Date, notAfter: Date, altNames?: readonly string[]): X509Certificate {
    return issueCertificate({
      role,
      subject,
      publicKey,
      signingKey: this.key,
      issuer: this.certificate,
      notBefore,
      notAfter,
      ...(altNames === undefined ? {} : { altNames }),
    });
  }
}
