/**
 * The agent side of tributary.v1.Enrollment: generate an ECDSA P-256 key
 * here, send only its public half with a proof of possession, and store the
 * certificate the hub signs. Enroll runs once with the one-time token;
 * Renew runs over mutual TLS with the current certificate.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { CredentialsSchema, EnrollRequestSchema, RenewRequestSchema, type Credentials, type EnrollRequest, type RenewRequest } from '../../proto/gen/tributary/v1/enrollment_pb.js';
import { ENROLL_PATH, possessionMessage, RENEW_PATH } from '../../proto/tributary/v1/enrollment-service.js';
import { AgentError } from '../errors.js';

const definition = {
  enroll: { path: ENROLL_PATH, requestStream: false, responseStream: false, requestSerialize: (m: EnrollRequest): Buffer => Buffer.from(toBinary(EnrollRequestSchema, m)), requestDeserialize: (b: Buffer): EnrollRequest => fromBinary(EnrollRequestSchema, b), responseSerialize: (m: Credentials): Buffer => Buffer.from(toBinary(CredentialsSchema, m)), responseDeserialize: (b: Buffer): Credentials => fromBinary(CredentialsSchema, b), originalName: 'enroll' },
  renew: { path: RENEW_PATH, requestStream: false, responseStream: false, requestSerialize: (m: RenewRequest): Buffer => Buffer.from(toBinary(RenewRequestSchema, m)), requestDeserialize: (b: Buffer): RenewRequest => fromBinary(RenewRequestSchema, b), responseSerialize: (m: Credentials): Buffer => Buffer.from(toBinary(CredentialsSchema, m)), responseDeserialize: (b: Buffer): Credentials => fromBinary(CredentialsSchema, b), originalName: 'renew' },
} satisfies grpc.ServiceDefinition;

const EnrollmentClient = grpc.makeGenericClientConstructor(definition, 'Enrollment');

export interface NewKey {
  readonly privateKey: KeyObject;
  readonly keyPem: string;
  readonly publicKeyDer: Buffer;
}

export function newKey(): NewKey {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { privateKey, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicKeyDer: publicKey.export({ type: 'spki', format: 'der' }) };
}

function proof(bindTo: string, key: NewKey): Buffer {
  return sign('sha256', possessionMessage(bindTo, createHash('sha256').update(key.publicKeyDer).digest('hex')), key.privateKey);
}

/** gRPC status codes after which retrying with the same input cannot succeed. */
function classify(what: string, e: grpc.ServiceError): AgentError {
  const final = [grpc.status.UNAUTHENTICATED, grpc.status.PERMISSION_DENIED, grpc.status.INVALID_ARGUMENT, grpc.status.NOT_FOUND].includes(e.code);
  return new AgentError(final ? 'hub-rejected' : 'hub-unavailable', `${what}: ${grpc.status[e.code] ?? e.code}: ${e.details}`, { cause: e });
}

function call<Req>(client: grpc.Client, method: 'enroll' | 'renew', req: Req, what: string): Promise<Credentials> {
  const d = definition[method] as unknown as grpc.MethodDefinition<Req, Credentials>;
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(d.path, d.requestSerialize, d.responseDeserialize, req, new grpc.Metadata(), { deadline: Date.now() + 30_000 }, (err, res) => {
      client.close();
      if (err !== null) reject(classify(what, err));
      else if (res === undefined) reject(new AgentError('hub-unavailable', `${what}: empty answer`));
      else resolve(res);
    });
  });
}

/** Spends the enrollment token; `caPem` is the CA pinned by the token's fingerprint. */
export async function enroll(address: string, caPem: string, token: string, agentId: string, key: NewKey): Promise<Credentials> {
  const tokenId = token.split('.')[1] ?? '';
  const client = new EnrollmentClient(address, grpc.credentials.createSsl(Buffer.from(caPem)));
  return call(client, 'enroll', create(EnrollRequestSchema, { token, agentId, publicKey: key.publicKeyDer, proof: proof(tokenId, key) }), 'enrollment refused');
}

/** A new certificate for a new key, authenticated by the current certificate. */
export async function renew(address: string, current: grpc.ChannelCredentials, currentFingerprint: string, key: NewKey): Promise<Credentials> {
  const client = new EnrollmentClient(address, current);
  return call(client, 'renew', create(RenewRequestSchema, { publicKey: key.publicKeyDer, proof: proof(currentFingerprint, key) }), 'certificate renewal refused');
}
