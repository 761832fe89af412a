/**
 * Trust on first use, made safe by a pin: before it has any credentials,
 * the agent opens one TLS connection to the hub without verifying it, looks
 * for a certificate in the presented chain whose SHA-256 equals the CA
 * fingerprint carried in the enrollment token, and from then on trusts only
 * that CA. A man in the middle cannot present a certificate with that hash.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { connect, type DetailedPeerCertificate } from 'node:tls';
import { AgentError } from '../errors.js';

export function splitHostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(address.slice(i + 1)) };
}

function toPem(raw: Buffer): string {
  const b64 = raw.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END CERTIFICATE-----\n`;
}

export function fetchPinnedCa(address: string, fingerprint: string, timeoutMs = 15_000): Promise<string> {
  const { host, port } = splitHostPort(address);
  return new Promise((resolve, reject) => {
    // Verification is off only for this probe; the pin below is the check.
    const socket = connect({ host, port, rejectUnauthorized: false, ALPNProtocols: ['h2'], ...(isIP(host) === 0 ? { servername: host } : {}) });
    const timer = setTimeout(() => socket.destroy(new Error(`no TLS answer from ${address} within ${timeoutMs} ms`)), timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const seen = new Set<string>();
      let cert: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
      while (cert?.raw !== undefined) {
        const fp = createHash('sha256').update(cert.raw).digest('hex');
        if (fp === fingerprint) {
          socket.destroy();
          return resolve(toPem(cert.raw));
        }
        if (seen.has(fp)) break;
        seen.add(fp);
        cert = cert.issuerCertificate;
      }
      socket.destroy();
      reject(new AgentError('hub-rejected', `the hub at ${address} did not present the CA pinned in the enrollment token (fingerprint ${fingerprint.slice(0, 16)}…): wrong address, or someone is intercepting the connection`));
    });
    socket.once('error', (cause) => {
      clearTimeout(timer);
      reject(new AgentError('hub-unavailable', `cannot open TLS to ${address}: ${cause.message}`, { cause }));
    });
  });
}
