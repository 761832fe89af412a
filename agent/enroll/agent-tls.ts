/**
 * The agent's TLS identity over its lifetime: enroll on first start (with
 * the one-time token), load the stored credentials afterwards, and renew the
 * certificate at two thirds of its lifetime. A renewal swaps the uplink's
 * channel; batches not yet acknowledged stay in the spool and are resent on
 * the new connection, so rotation loses nothing.
 */
import * as grpc from '@grpc/grpc-js';
import { createHash, X509Certificate } from 'node:crypto';
import { Backoff, sleep } from '../backoff.js';
import { AgentError } from '../errors.js';
import type { Logger } from '../log.js';
import { CredentialStore, type StoredCredentials } from './credential-store.js';
import type { HubTlsConfig } from './config.js';
import { enroll, newKey, renew } from './enroll-client.js';
import { fetchPinnedCa } from './pin.js';

const fingerprintOf = (raw: Buffer): string => createHash('sha256').update(raw).digest('hex');

function commonName(c: StoredCredentials): string {
  return /(?:^|\n)CN=([^\n]*)/.exec(c.certificate.subject)?.[1] ?? '';
}

export class AgentTls {
  /** When the current certificate was loaded or received (its notBefore is backdated for clock skew). */
  private since = Date.now();

  private constructor(
    private readonly address: string,
    private readonly store: CredentialStore,
    private current: StoredCredentials,
    private readonly log: Logger,
  ) {}

  /** Loads the stored credentials, or enrolls (retrying while the hub is unreachable, until `signal` aborts). */
  static async open(hub: { address: string } & HubTlsConfig, agentId: string, log: Logger, signal?: AbortSignal): Promise<AgentTls> {
    if (hub.credentials === null) throw new AgentError('config', 'hub.credentials is required for TLS');
    const store = new CredentialStore(hub.credentials);
    let creds: StoredCredentials;
    if (store.exists()) creds = store.load();
    else {
      if (hub.enrollmentToken === null) throw new AgentError('config', `not enrolled: ${hub.credentials} holds no certificate; set hub.enrollmentToken to a token from POST /v1/agents/${agentId}/enrollment-tokens`);
      const token = hub.enrollmentToken.reveal();
      const backoff = new Backoff({ initialMs: 500, maxMs: 30_000 });
      for (;;) {
        try {
          creds = await AgentTls.enroll(hub.address, token, agentId, store, log);
          break;
        } catch (e) {
          if (!(e instanceof AgentError) || e.kind !== 'hub-unavailable' || signal?.aborted !== false) throw e;
          log.warn('enrollment failed; retrying', { error: e });
          await backoff.wait(signal);
        }
      }
    }
    if (commonName(creds) !== agentId) throw new AgentError('config', `the certificate in ${hub.credentials} is for agent ${commonName(creds)}, but agentId is ${agentId}`);
    if (Date.parse(creds.certificate.validTo) < Date.now()) throw new AgentError('hub-rejected', `the certificate in ${hub.credentials} expired at ${creds.certificate.validTo}; enroll again with a new token (remove agent.pem first)`);
    log.info('using TLS client certificate', { fingerprint: fingerprintOf(creds.certificate.raw).slice(0, 16), notAfter: creds.certificate.validTo });
    return new AgentTls(hub.address, store, creds, log);
  }

  private static async enroll(address: string, token: string, agentId: string, store: CredentialStore, log: Logger): Promise<StoredCredentials> {
    const pin = token.split('.')[3];
    if (pin === undefined || !/^[0-9a-f]{64}$/.test(pin)) throw new AgentError('config', 'hub.enrollmentToken is not an enrollment token (expected tre1.<id>.<secret>.<ca fingerprint>)');
    const caPem = await fetchPinnedCa(address, pin);
    const key = newKey();
    const issued = await enroll(address, caPem, token, agentId, key);
    if (fingerprintOf(new X509Certificate(issued.caPem).raw) !== pin) throw new AgentError('hub-rejected', 'the hub answered with a CA other than the pinned one');
    log.info('enrolled with the hub', { workspace: issued.workspace, notAfter: new Date(Number(issued.notAfterMs)).toISOString() });
    return store.save(key.keyPem, issued.certificatePem, issued.caPem);
  }

  channel(): grpc.ChannelCredentials {
    return grpc.credentials.createSsl(Buffer.from(this.current.caPem), Buffer.from(this.current.keyPem), Buffer.from(this.current.certPem));
  }

  /**
   * When the current certificate should be renewed: two thirds of the way
   * from when this agent got it (or loaded it) to its expiry, so a hub that
   * is down for a while still leaves a third of the lifetime for retries.
   */
  renewAt(): number {
    const to = Date.parse(this.current.certificate.validTo);
    return this.since + ((to - this.since) * 2) / 3;
  }

  /** Renews before expiry until `signal` aborts; calls `onRenewed` with the new channel credentials. */
  async rotate(signal: AbortSignal, onRenewed: (c: grpc.ChannelCredentials) => void): Promise<void> {
    const backoff = new Backoff({ initialMs: 1000, maxMs: 60_000 });
    while (!signal.aborted) {
      const wait = Math.max(0, this.renewAt() - Date.now());
      if (wait > 0) await sleep(Math.min(wait, 2 ** 31 - 1), signal);
      if (signal.aborted) return;
      if (Date.now() < this.renewAt()) continue;
      try {
        const key = newKey();
        const issued = await renew(this.address, this.channel(), fingerprintOf(this.current.certificate.raw), key);
        this.current = this.store.save(key.keyPem, issued.certificatePem, issued.caPem);
        this.since = Date.now();
        this.log.info('client certificate renewed', { fingerprint: fingerprintOf(this.current.certificate.raw).slice(0, 16), notAfter: this.current.certificate.validTo });
        backoff.reset();
        onRenewed(this.channel());
      } catch (e) {
        if (e instanceof AgentError && e.kind === 'hub-rejected') throw e;
        this.log.warn('certificate renewal failed; retrying', { error: e, expires: this.current.certificate.validTo });
        await backoff.wait(signal);
      }
    }
  }
}
