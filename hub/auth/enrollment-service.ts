/**
 * gRPC handlers of tributary.v1.Enrollment. Errors carry gRPC status codes
 * the agent acts on (UNAUTHENTICATED / PERMISSION_DENIED: stop and tell the
 * operator; UNAVAILABLE: retry), with a message naming what is wrong.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { CredentialsSchema, EnrollRequestSchema, RenewRequestSchema, type Credentials, type EnrollRequest, type RenewRequest } from '../../proto/gen/tributary/v1/enrollment_pb.js';
import { ENROLL_PATH, RENEW_PATH } from '../../proto/tributary/v1/enrollment-service.js';
import { HubError } from '../errors.js';
import type { Logger } from '../log.js';
import type { AgentRegistry, IssuedCredentials } from './agent-registry.js';
import { peerCertificate } from './server-credentials.js';

type Parsed<T> = { readonly ok: T } | { readonly error: string };

function parser<T>(schema: Parameters<typeof fromBinary>[0]): (b: Buffer) => Parsed<T> {
  return (b) => {
    try {
      return { ok: fromBinary(schema, b) as T };
    } catch {
      return { error: 'the request is not valid protobuf' };
    }
  };
}

const serialize = (m: Credentials): Buffer => Buffer.from(toBinary(CredentialsSchema, m));

export const enrollmentDefinition = {
  enroll: { path: ENROLL_PATH, requestStream: false, responseStream: false, requestSerialize: (): Buffer => Buffer.alloc(0), requestDeserialize: parser<EnrollRequest>(EnrollRequestSchema), responseSerialize: serialize, responseDeserialize: (b: Buffer): Credentials => fromBinary(CredentialsSchema, b), originalName: 'enroll' },
  renew: { path: RENEW_PATH, requestStream: false, responseStream: false, requestSerialize: (): Buffer => Buffer.alloc(0), requestDeserialize: parser<RenewRequest>(RenewRequestSchema), responseSerialize: serialize, responseDeserialize: (b: Buffer): Credentials => fromBinary(CredentialsSchema, b), originalName: 'renew' },
} satisfies grpc.ServiceDefinition;

export function grpcStatusOf(e: unknown): grpc.status {
  if (!(e instanceof HubError)) return grpc.status.INTERNAL;
  switch (e.kind) {
    case 'unauthenticated':
      return grpc.status.UNAUTHENTICATED;
    case 'forbidden':
      return grpc.status.PERMISSION_DENIED;
    case 'bad-request':
    case 'malformed':
      return grpc.status.INVALID_ARGUMENT;
    case 'not-found':
      return grpc.status.NOT_FOUND;
    default:
      return grpc.status.UNAVAILABLE;
  }
}

function toMessage(c: IssuedCredentials): Credentials {
  return create(CredentialsSchema, { certificatePem: c.certificatePem, caPem: c.caPem, agentId: c.agentId, workspace: c.workspace, notAfterMs: BigInt(c.notAfter.getTime()) });
}

type Unary<Req> = grpc.ServerUnaryCall<Parsed<Req>, Credentials>;

export function enrollmentHandlers(registry: AgentRegistry, logger: Logger): grpc.UntypedServiceImplementation {
  const answer = <Req>(what: string, run: (req: Req, call: Unary<Req>) => Promise<IssuedCredentials>) => (call: Unary<Req>, callback: grpc.sendUnaryData<Credentials>): void => {
    const req = call.request;
    if ('error' in req) {
      callback({ code: grpc.status.INVALID_ARGUMENT, details: req.error });
      return;
    }
    run(req.ok, call).then(
      (c) => {
        logger.info(`agent ${what}`, { agent: c.agentId, workspace: c.workspace, notAfter: c.notAfter.toISOString() });
        callback(null, toMessage(c));
      },
      (e: unknown) => {
        logger.warn(`agent ${what} refused`, { error: e, peer: call.getPeer() });
        callback({ code: grpcStatusOf(e), details: e instanceof HubError ? e.message : 'internal error' });
      },
    );
  };
  return {
    enroll: answer<EnrollRequest>('enrolled', (r) => registry.enroll(r.token, r.agentId, r.publicKey, r.proof)),
    renew: answer<RenewRequest>('renewed its certificate', async (r, call) => registry.renew(registry.identify(peerCertificate(call)), r.publicKey, r.proof)),
  };
}
