/**
 * TLS credentials of the gRPC listener. The server asks every client for a
 * certificate but does not refuse one without (rejectUnauthorized: false):
 * an agent that has not enrolled yet must reach the Enroll RPC. OpenSSL
 * still verifies any presented chain against the CA, and grpc-js exposes a
 * peer certificate to handlers (`call.getAuthContext()`) only when that
 * verification succeeded; every RPC other than Enroll refuses a call
 * without one.
 */
import * as grpc from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import type { CertificateAuthority } from './ca.js';

type CaListener = grpc.experimental.CaCertificateUpdateListener;
type IdentityListener = grpc.experimental.IdentityCertificateUpdateListener;

class StaticProvider implements grpc.experimental.CertificateProvider {
  constructor(
    private readonly ca: Buffer,
    private readonly cert: Buffer,
    private readonly key: Buffer,
  ) {}
  // grpc-js registers its own watcher only after adding these listeners, so an
  // answer given synchronously would be lost: answer on the next microtask.
  addCaCertificateListener(l: CaListener): void {
    queueMicrotask(() => l({ caCertificate: this.ca }));
  }
  removeCaCertificateListener(): void {}
  addIdentityCertificateListener(l: IdentityListener): void {
    queueMicrotask(() => l({ certificate: this.cert, privateKey: this.key }));
  }
  removeIdentityCertificateListener(): void {}
}

export function serverCredentials(ca: CertificateAuthority, serverNames: readonly string[]): grpc.ServerCredentials {
  const id = ca.serverIdentity(serverNames);
  const provider = new StaticProvider(Buffer.from(ca.certPem), Buffer.from(id.certPem), Buffer.from(id.keyPem));
  // One provider serves as both CA and identity source (the two positional
  // arguments are easy to swap; this makes their order irrelevant).
  return grpc.experimental.createCertificateProviderServerCredentials(provider, provider, false);
}

/** The verified client certificate of a call, if any (DER). */
export function peerCertificate(call: { getAuthContext(): { sslPeerCertificate?: PeerCertificate } | null }): Uint8Array | undefined {
  return call.getAuthContext()?.sslPeerCertificate?.raw;
}
