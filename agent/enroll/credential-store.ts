/**
 * The agent's credentials on its own disk: agent.key (PKCS#8 PEM, mode
 * 0600, generated here and never sent anywhere), agent.pem (its client
 * certificate) and ca.pem (the hub CA it trusts). Files are replaced
 * atomically (write, fsync, rename), so a crash during rotation leaves the
 * old or the new pair, never a key that does not match its certificate.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { AgentError } from '../errors.js';

export interface StoredCredentials {
  readonly keyPem: string;
  readonly certPem: string;
  readonly caPem: string;
  readonly certificate: X509Certificate;
  readonly key: KeyObject;
}

function writeAtomic(path: string, text: string, mode: number): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export class CredentialStore {
  constructor(readonly dir: string) {}

  exists(): boolean {
    return existsSync(join(this.dir, 'agent.pem'));
  }

  load(): StoredCredentials {
    try {
      const keyPem = readFileSync(join(this.dir, 'agent.key'), 'utf8');
      const certPem = readFileSync(join(this.dir, 'agent.pem'), 'utf8');
      const caPem = readFileSync(join(this.dir, 'ca.pem'), 'utf8');
      const certificate = new X509Certificate(certPem);
      const key = createPrivateKey(keyPem);
      if (!certificate.checkPrivateKey(key)) throw new AgentError('config', `${this.dir}/agent.key does not belong to agent.pem`);
      return { keyPem, certPem, caPem, certificate, key };
    } catch (cause) {
      if (cause instanceof AgentError) throw cause;
      throw new AgentError('config', `cannot read the agent credentials in ${this.dir}: ${(cause as Error).message}`, { cause });
    }
  }

  /** Key first, then CA, then certificate: `exists()` turns true only when all three are in place. */
  save(keyPem: string, certPem: string, caPem: string): StoredCredentials {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    // The new key goes under a new name until its certificate is written, so the old pair stays consistent.
    writeAtomic(join(this.dir, 'agent.key.next'), keyPem, 0o600);
    writeAtomic(join(this.dir, 'ca.pem'), caPem, 0o644);
    writeAtomic(join(this.dir, 'agent.pem.next'), certPem, 0o644);
    renameSync(join(this.dir, 'agent.key.next'), join(this.dir, 'agent.key'));
    renameSync(join(this.dir, 'agent.pem.next'), join(this.dir, 'agent.pem'));
    return this.load();
  }
}
