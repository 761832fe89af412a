/** Agent registration, enrollment, revocation and API tokens (security-routes.ts). */
import { anyObject, arr, obj, str, type RouteDoc } from './spec.js';

const id = 'agent id';
export const SECURITY_ROUTES: readonly RouteDoc[] = [
  { method: 'post', path: '/v1/agents', tag: 'agents', auth: 'admin', summary: 'Register an agent (ids are unique across the hub)', status: 201, body: obj({ id: str('letters, digits, "_", "-", "."; max 63') }), response: obj({ agent: anyObject() }), errors: ['CONFLICT'] },
  { method: 'get', path: '/v1/agents/{id}', tag: 'agents', auth: 'read', params: { id }, summary: 'The agent\'s record (certificate fingerprint and expiry, revoked?) and its streams', response: obj({ agent: anyObject(), streams: arr(anyObject()) }) },
  { method: 'post', path: '/v1/agents/{id}/enrollment-tokens', tag: 'agents', auth: 'admin', params: { id }, summary: 'A one-time enrollment token for the agent (shown once) and the CA fingerprint to pin', status: 201, response: anyObject() },
  { method: 'post', path: '/v1/agents/{id}/revoke', tag: 'agents', auth: 'admin', params: { id }, summary: 'Revoke the agent; its streams are closed at once', response: obj({ agent: anyObject() }) },
  { method: 'get', path: '/v1/tokens', tag: 'tokens', auth: 'admin', summary: 'API tokens of the workspace (never their secrets)', response: obj({ tokens: arr(anyObject()) }) },
  { method: 'post', path: '/v1/tokens', tag: 'tokens', auth: 'admin', summary: 'Create an API token; the secret is in this answer only', status: 201, body: obj({ name: str(), scope: str(undefined, { enum: ['admin', 'read'] }) }, ['name']), response: obj({ token: str(), record: anyObject() }) },
  { method: 'post', path: '/v1/tokens/{id}/revoke', tag: 'tokens', auth: 'admin', params: { id: 'token id' }, summary: 'Revoke an API token', response: obj({ token: anyObject() }) },
];
