/**
 * Who is on an Uplink stream. With TLS, the identity comes only from the
 * verified client certificate: the Hello's agent id must match it, and the
 * workspace is the certificate's. Pipelines that route this agent must all
 * belong to the same workspace, so data can never land in another tenant's
 * sinks. In the development plaintext mode the Hello is trusted, loudly.
 */
import { HubError } from '../errors.js';
import type { AgentIdentity, AgentRegistry } from '../auth/agent-registry.js';

export interface StreamSecurity {
  /** null: development plaintext mode. */
  readonly registry: AgentRegistry | null;
  readonly plaintextRegistry?: AgentRegistry;
  /** Agent id → workspaces of the pipelines naming it. */
  readonly pipelineWorkspaces: (agentId: string) => readonly string[];
}

export type StreamIdentity = { readonly ok: AgentIdentity } | { readonly code: string; readonly message: string };

export function identifyStream(security: StreamSecurity, peer: Uint8Array | undefined, helloAgentId: string): StreamIdentity {
  let identity: AgentIdentity;
  if (security.registry === null) {
    const known = security.plaintextRegistry?.agentRecord(helloAgentId);
    if (known?.revokedAt != null) return { code: 'REVOKED', message: `agent ${helloAgentId} was revoked` };
    identity = { agentId: helloAgentId, workspace: known?.workspace ?? 'default', fingerprint: '', notAfter: Infinity };
  } else {
    try {
      identity = security.registry.identify(peer);
    } catch (e) {
      if (!(e instanceof HubError)) throw e;
      return { code: e.kind === 'forbidden' ? 'REVOKED' : 'UNAUTHENTICATED', message: e.message };
    }
    if (identity.agentId !== helloAgentId)
      return { code: 'IDENTITY_MISMATCH', message: `the certificate is for agent ${identity.agentId}, but the Hello says ${JSON.stringify(helloAgentId).slice(0, 80)}` };
  }
  const foreign = security.pipelineWorkspaces(identity.agentId).filter((w) => w !== identity.workspace);
  if (foreign.length > 0)
    return { code: 'WORKSPACE_MISMATCH', message: `agent ${identity.agentId} belongs to workspace ${identity.workspace}, but pipelines of workspace ${foreign.join(', ')} name it; the hub refuses to route across workspaces` };
  return { ok: identity };
}
