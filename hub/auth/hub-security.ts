/**
 * Everything security the hub process holds, opened once at start: the
 * state store, the CA, the agent registry, API tokens, the listener's TLS
 * credentials and the per-stream identity rules.
 */
import * as grpc from '@grpc/grpc-js';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import type { StreamSecurity } from '../ingest/stream-identity.js';
import { AgentRegistry } from './agent-registry.js';
import { ApiTokens } from './api-tokens.js';
import { CertificateAuthority } from './ca.js';
import type { SecurityConfig } from './config.js';
import { serverCredentials } from './server-credentials.js';
import { HubStateStore } from './state-store.js';

export interface HubSecurity extends AsyncDisposable {
  readonly registry: AgentRegistry;
  readonly apiTokens: ApiTokens;
  readonly credentials: grpc.ServerCredentials | null;
  readonly stream: StreamSecurity;
}

/** `pipelineWorkspaces`: agent id → workspaces of the pipelines naming it, read at every connection (pipelines change at run time). */
export function openHubSecurity(config: SecurityConfig, hubId: string, pipelineWorkspaces: (agentId: string) => readonly string[], logger: Logger): HubSecurity {
  mkdirSync(config.path, { recursive: true, mode: 0o700 });
  const store = new HubStateStore(join(config.path, 'state'));
  const ca = CertificateAuthority.open(config.path, config.ca, hubId);
  const registry = new AgentRegistry(store, ca, { certificateTtlMs: config.certificateTtlSeconds * 1000, enrollmentTtlMs: config.enrollmentTokenTtlSeconds * 1000 });
  const apiTokens = new ApiTokens(store, config.adminTokens);
  if (config.plaintext)
    logger.warn('PLAINTEXT gRPC listener (security.plaintext = true): agents are NOT authenticated and traffic is NOT encrypted; development only', { path: config.path });
  else logger.info('gRPC listener uses mutual TLS', { caFingerprint: ca.fingerprint, ca: config.ca === null ? join(config.path, 'ca.pem') : config.ca.certFile });
  return {
    registry,
    apiTokens,
    credentials: config.plaintext ? null : serverCredentials(ca, config.serverNames),
    stream: config.plaintext ? { registry: null, plaintextRegistry: registry, pipelineWorkspaces } : { registry, pipelineWorkspaces },
    async [Symbol.asyncDispose]() {
      await store[Symbol.asyncDispose]();
    },
  };
}
