/**
 * Helpers for the security tests: an in-process hub with mutual TLS, agent
 * enrollment through the real API and Enroll RPC, and a raw Uplink stream
 * that can send any bytes (valid, truncated or hostile).
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentTls } from '../../agent/enroll/agent-tls.js';
import { Secret } from '../../agent/config.js';
import { createLogger as agentLogger } from '../../agent/log.js';
import { ChangeBatchSchema, ChangeEventSchema, Op } from '../../proto/gen/tributary/v1/change_pb.js';
import { AgentMessageSchema, HelloSchema, HubMessageSchema, type HubMessage } from '../../proto/gen/tributary/v1/uplink_pb.js';
import { UPLINK_STREAM_PATH } from '../../proto/tributary/v1/uplink-service.js';
import { parseHubConfig } from '../../hub/config.js';
import { createLogger as hubLogger } from '../../hub/log.js';
import { startHub, type RunningHub } from '../../hub/main.js';
import { freePort } from '../support/pipeline.js';

export interface SecureHub {
  readonly hub: RunningHub;
  readonly address: string;
  readonly logFile: string;
  readonly securityDir: string;
  http(path: string, token: string | null, init?: RequestInit): Promise<Response>;
}

export async function startSecureHub(dir: string, extra: { pipelines?: unknown[]; adminTokens: { workspace: string; token: string }[]; maxMessageBytes?: number; certificateTtlSeconds?: number }): Promise<SecureHub> {
  const grpcPort = await freePort();
  const httpPort = await freePort();
  const securityDir = join(dir, 'hub-security');
  const config = parseHubConfig(
    {
      hubId: 'security-test-hub',
      grpc: { listen: `127.0.0.1:${grpcPort}`, maxMessageBytes: extra.maxMessageBytes ?? 64 * 1024 },
      http: { listen: `127.0.0.1:${httpPort}` },
      log: { path: join(dir, 'hub-log') },
      pipelines: extra.pipelines ?? [],
      security: { path: securityDir, adminTokens: extra.adminTokens, ...(extra.certificateTtlSeconds === undefined ? {} : { certificateTtlSeconds: extra.certificateTtlSeconds }) },
      logLevel: 'debug',
    },
    {},
  );
  const logFile = join(dir, 'hub.log');
  const hub = await startHub(config, hubLogger('debug', { process: 'hub' }, (line) => appendFileSync(logFile, line)));
  return {
    hub,
    address: `127.0.0.1:${hub.grpcPort}`,
    logFile,
    securityDir,
    http: (path, token, init = {}) =>
      fetch(`http://127.0.0.1:${hub.httpPort}${path}`, { ...init, headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...(init.headers as Record<string, string> | undefined) } }),
  };
}

export async function createEnrollmentToken(hub: SecureHub, admin: string, agentId: string): Promise<string> {
  const created = await hub.http('/v1/agents', admin, { method: 'POST', body: JSON.stringify({ id: agentId }) });
  if (created.status !== 201 && created.status !== 409) throw new Error(`POST /v1/agents: ${created.status} ${await created.text()}`);
  const r = await hub.http(`/v1/agents/${agentId}/enrollment-tokens`, admin, { method: 'POST' });
  if (r.status !== 201) throw new Error(`enrollment token: ${r.status} ${await r.text()}`);
  return ((await r.json()) as { token: string }).token;
}

/** Enrolls like the agent does at first start (pinned CA, Enroll RPC); credentials land in `dir`. */
export async function enrollAgent(hub: SecureHub, admin: string, agentId: string, dir: string): Promise<AgentTls> {
  return enrollWithToken(hub, await createEnrollmentToken(hub, admin, agentId), agentId, dir);
}

export function enrollWithToken(hub: SecureHub, token: string, agentId: string, dir: string): Promise<AgentTls> {
  return AgentTls.open({ address: hub.address, credentials: dir, enrollmentToken: new Secret(token) }, agentId, agentLogger('error'));
}

const rawDefinition = {
  stream: {
    path: UPLINK_STREAM_PATH,
    requestStream: true,
    responseStream: true,
    requestSerialize: (b: Buffer): Buffer => b,
    requestDeserialize: (b: Buffer): Buffer => b,
    responseSerialize: (m: HubMessage): Buffer => Buffer.from(toBinary(HubMessageSchema, m)),
    responseDeserialize: (b: Buffer): HubMessage => fromBinary(HubMessageSchema, b),
    originalName: 'stream',
  },
} satisfies grpc.ServiceDefinition;
const RawClient = grpc.makeGenericClientConstructor(rawDefinition, 'Uplink');

export type StreamEvent = { readonly message: HubMessage } | { readonly error: grpc.ServiceError } | { readonly end: true };

/** An Uplink stream that writes raw bytes and lets the test read the hub's answers in order. */
export class RawStream {
  private readonly client: grpc.Client;
  private readonly call: grpc.ClientDuplexStream<Buffer, HubMessage>;
  private readonly events: StreamEvent[] = [];
  private wake: (() => void) | null = null;

  constructor(address: string, credentials: grpc.ChannelCredentials) {
    this.client = new RawClient(address, credentials, { 'grpc.max_send_message_length': 16 << 20 });
    this.call = this.client.makeBidiStreamRequest(rawDefinition.stream.path, rawDefinition.stream.requestSerialize, rawDefinition.stream.responseDeserialize, new grpc.Metadata());
    const push = (e: StreamEvent): void => {
      this.events.push(e);
      this.wake?.();
    };
    this.call.on('data', (m: HubMessage) => push({ message: m }));
    this.call.on('error', (e: grpc.ServiceError) => push({ error: e }));
    this.call.on('end', () => push({ end: true }));
  }

  write(bytes: Uint8Array): void {
    this.call.write(Buffer.from(bytes));
  }

  async next(timeoutMs = 20_000): Promise<StreamEvent> {
    const deadline = Date.now() + timeoutMs;
    while (this.events.length === 0) {
      if (Date.now() > deadline) throw new Error('no answer from the hub');
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, 200);
      });
    }
    return this.events.shift() as StreamEvent;
  }

  /** The next Reject's code, or the gRPC status name if the stream failed without one. */
  async rejection(timeoutMs = 20_000): Promise<string> {
    for (;;) {
      const e = await this.next(timeoutMs);
      if ('message' in e && e.message.body.case === 'reject') return e.message.body.value.code;
      if ('error' in e) return `grpc:${grpc.status[e.error.code] ?? e.error.code}`;
      if ('end' in e) return 'end';
    }
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }
}

export function helloBytes(agentId: string, sourceId = 'db'): Uint8Array {
  return toBinary(AgentMessageSchema, create(AgentMessageSchema, { body: { case: 'hello', value: create(HelloSchema, { agentId, sourceId, sourceKind: 'postgres', agentVersion: 'test' }) } }));
}

export function batchBytes(sequence: number, marker = 'row'): { message: Uint8Array; batch: Uint8Array } {
  const event = create(ChangeEventSchema, { schema: 'public', table: 't', op: Op.INSERT, key: new TextEncoder().encode(marker), commitPosition: BigInt(sequence * 100), indexInTx: 0, commitTimeUs: 1n, txid: 1n, schemaVersion: 0 });
  const batch = toBinary(ChangeBatchSchema, create(ChangeBatchSchema, { sequence: BigInt(sequence), events: [event], sourcePosition: BigInt(sequence * 100), commitBoundary: true }));
  const message = toBinary(AgentMessageSchema, create(AgentMessageSchema, { body: { case: 'batch', value: fromBinary(ChangeBatchSchema, batch) } }));
  return { message, batch };
}

/** Hostile-input bookkeeping: every case, and how many crashed the hub or got a 5xx. */
export class CaseLog {
  tried = 0;
  crashes = 0;
  serverErrors = 0;
  readonly lines: string[] = [];
  record(name: string, outcome: string, status?: number): void {
    this.tried++;
    if (status !== undefined && status >= 500) this.serverErrors++;
    this.lines.push(`${name}: ${outcome}`);
  }
  summary(what: string): string {
    return `${what}: ${this.tried} hostile cases tried, ${this.crashes} crashes, ${this.serverErrors} 5xx answers`;
  }
}
