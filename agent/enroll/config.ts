/**
 * The agent configuration's TLS fields inside `hub`:
 *
 *   "hub": {
 *     "address": "hub.example.com:7400",
 *     "credentials": "/var/lib/tributary/credentials",     key, certificate and hub CA (created at enrollment)
 *     "enrollmentToken": { "env": "TRIBUTARY_ENROLLMENT_TOKEN" },   needed once, for the first start
 *     "plaintext": false                                   development only: no TLS at all
 *   }
 */
import type { FieldReader, Secret } from '../config.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface HubTlsConfig {
  /** Directory holding agent.key (mode 0600), agent.pem and ca.pem; null only with plaintext. */
  readonly credentials: string | null;
  readonly enrollmentToken: Secret | null;
}

export const HUB_TLS_FIELDS = ['credentials', 'enrollmentToken'] as const;

export function parseHubTls(r: FieldReader, hub: Record<string, Json>, plaintext: boolean): HubTlsConfig {
  const credentials = hub['credentials'] === undefined ? null : r.string(hub, 'credentials', 'hub');
  const enrollmentToken = r.secret(hub, 'enrollmentToken', 'hub');
  if (!plaintext && credentials === null) r.errors.push('hub.credentials: required (a directory for this agent\'s private key and certificate); or set "plaintext": true for development');
  if (plaintext && (credentials !== null || enrollmentToken !== null)) r.errors.push('hub.plaintext: true cannot be combined with credentials or enrollmentToken');
  return { credentials, enrollmentToken };
}
