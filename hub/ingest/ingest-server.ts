/**
 * gRPC ingest: one stream per (agent, source). Hello → Welcome(resume point);
 * each batch is appended to the log and acknowledged only once durable there.
 * A newer stream for the same source replaces the older one (an agent that
 * reconnected before the hub noticed the old connection died).
 */
import { create } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { AckSchema, CommandSchema, HubMessageSchema, RejectSchema, WelcomeSchema, type Heartbeat, type HubMessage } from '../../proto/gen/tributary/v1/uplink_pb.js';
import { HubError } from '../errors.js';
import type { Logger } from '../log.js';
import type { HubEvents } from '../events/hub-events.js';
import type { IngestLog } from '../log/change-log.js';
import { schemaEvents } from '../schemas/schema-events.js';
import type { HubMetrics } from '../metrics.js';
import { enrollmentDefinition, enrollmentHandlers } from '../auth/enrollment-service.js';
import { peerCertificate } from '../auth/server-credentials.js';
import { identifyStream, type StreamSecurity } from './stream-identity.js';
import { hubUplinkDefinition, type ParsedAgentMessage } from './wire.js';

export interface AgentSession {
  readonly agentId: string;
  /** From the agent's certificate, never from a message field. */
  readonly workspace: string;
  readonly sourceId: string;
  readonly sourceKind: string;
  readonly agentVersion: string;
  readonly connectedAt: Date;
  lastSeen: Date;
  lastHeartbeat: Heartbeat | null;
  connected: boolean;
  /** Source clock at the newest commit or heartbeat durable in the hub log from this stream (µs; 0 = none yet). */
  freshUntilUs: number;
}

export interface IngestOptions {
  readonly hubId: string;
  readonly log: IngestLog;
  readonly logger: Logger;
  readonly metrics: HubMetrics;
  readonly maxMessageBytes: number;
  /** TLS credentials of the listener; null only in the development plaintext mode. */
  readonly credentials: grpc.ServerCredentials | null;
  readonly security: StreamSecurity;
  /** Agent events are published here as kind `agent.<kind>`. */
  readonly events?: HubEvents | undefined;
}

type Stream = grpc.ServerDuplexStream<ParsedAgentMessage, HubMessage>;

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export function sourceKeyOf(agentId: string, sourceId: string): string {
  return `${agentId}/${sourceId}`;
}

export class IngestServer {
  readonly sessions = new Map<string, AgentSession>();
  private readonly active = new Map<string, { call: Stream; notAfter: number; supersede: () => void; revoke: (code?: string) => void }>();
  /** TLS checks a certificate once, at the handshake: a stream that outlives its certificate is closed here. */
  private readonly expirySweep = setInterval(() => {
    const now = Date.now();
    for (const s of this.active.values()) if (s.notAfter < now) s.revoke('UNAUTHENTICATED');
  }, 5_000).unref();
  private readonly server: grpc.Server;

  constructor(private readonly options: IngestOptions) {
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': options.maxMessageBytes,
      'grpc.max_send_message_length': 1 << 20,
      'grpc.keepalive_time_ms': 20_000,
      'grpc.keepalive_timeout_ms': 10_000,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.http2.min_ping_interval_without_data_ms': 5_000,
    });
    this.server.addService(hubUplinkDefinition, { stream: (call: Stream) => this.handle(call) });
    const { registry, plaintextRegistry } = options.security;
    if (registry !== null) this.server.addService(enrollmentDefinition, enrollmentHandlers(registry, options.logger.child('enrollment')));
    (registry ?? plaintextRegistry)?.onRevoke((agentId) => this.disconnectAgent(agentId));
  }

  /** Ends every stream of a revoked agent with Reject(REVOKED). */
  private disconnectAgent(agentId: string): void {
    for (const [key, s] of this.active) if (this.sessions.get(key)?.agentId === agentId) s.revoke();
  }

  listen(address: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.bindAsync(address, this.options.credentials ?? grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port)));
    });
  }

  async close(): Promise<void> {
    clearInterval(this.expirySweep);
    for (const s of this.active.values()) s.supersede();
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
  }

  /**
   * Sends a command to the agent streaming `sourceKey` (`agent/source`). Returns
   * the command's id, which the agent's `command.result` event carries back, or
   * null when that source has no open stream (the caller decides whether to
   * retry on the next connect). Delivery is at most once: a stream that breaks
   * may lose it.
   */
  sendCommand(sourceKey: string, kind: string, payload: unknown): string | null {
    const s = this.active.get(sourceKey);
    if (s === undefined || s.call.cancelled || s.call.destroyed) return null;
    const id = randomUUID();
    const bytes = Buffer.from(JSON.stringify(payload ?? null), 'utf8');
    this.send(s.call, create(HubMessageSchema, { body: { case: 'command', value: create(CommandSchema, { id, kind, payload: bytes }) } }));
    return id;
  }

  private send(call: Stream, m: HubMessage): void {
    if (!call.cancelled && !call.destroyed) call.write(m);
  }

  private reject(call: Stream, code: string, message: string, sequence = 0): void {
    this.options.logger.warn('rejecting agent stream', { code, message, sequence });
    this.send(call, create(HubMessageSchema, { body: { case: 'reject', value: create(RejectSchema, { code, message, sequence: BigInt(sequence) }) } }));
    call.end();
  }

  private handle(call: Stream): void {
    let session: AgentSession | null = null;
    let sourceKey = '';
    // Batches are appended strictly one after another per stream.
    let chain: Promise<void> = Promise.resolve();
    let failed = false;
    const { log, logger, metrics } = this.options;
    call.on('data', (m: ParsedAgentMessage) => {
      if (failed) return;
      if (session !== null) session.lastSeen = new Date();
      if (m.case === 'invalid') {
        failed = true;
        metrics.rejected.inc({ code: 'MALFORMED' });
        return this.reject(call, 'MALFORMED', m.error.message);
      }
      if (m.case === 'hello') {
        const h = m.value;
        if (session !== null) return this.reject(call, 'PROTOCOL', 'a second Hello on one stream');
        if (!NAME.test(h.agentId) || !NAME.test(h.sourceId)) {
          failed = true;
          return this.reject(call, 'BAD_HELLO', `agent and source ids must be names of letters, digits, "_", "-", "." (got ${JSON.stringify(h.agentId).slice(0, 80)}, ${JSON.stringify(h.sourceId).slice(0, 80)})`);
        }
        const who = identifyStream(this.options.security, peerCertificate(call), h.agentId);
        if ('code' in who) {
          failed = true;
          metrics.rejected.inc({ code: who.code });
          return this.reject(call, who.code, who.message);
        }
        sourceKey = sourceKeyOf(h.agentId, h.sourceId);
        this.active.get(sourceKey)?.supersede();
        this.active.set(sourceKey, {
          call,
          supersede: () => {
            failed = true;
            call.end();
          },
          notAfter: who.ok.notAfter,
          revoke: (code = 'REVOKED') => {
            if (failed) return; // already refused and ended
            failed = true;
            metrics.rejected.inc({ code });
            this.reject(call, code, code === 'REVOKED' ? `agent ${h.agentId} was revoked` : `the client certificate of agent ${h.agentId} expired; the agent must renew it before expiry or enroll again`);
          },
        });
        session = { agentId: h.agentId, workspace: who.ok.workspace, sourceId: h.sourceId, sourceKind: h.sourceKind, agentVersion: h.agentVersion, connectedAt: new Date(), lastSeen: new Date(), lastHeartbeat: null, connected: true, freshUntilUs: 0 };
        this.sessions.set(sourceKey, session);
        const claimed = sourceKey;
        const welcome = (): void => {
          const acked = log.checkpoint(claimed)?.ackedSequence ?? 0;
          logger.info('agent connected', { source: claimed, workspace: who.ok.workspace, version: h.agentVersion, resumeAt: acked + 1 });
          this.send(call, create(HubMessageSchema, { body: { case: 'welcome', value: create(WelcomeSchema, { ackedSequence: BigInt(acked), hubId: this.options.hubId }) } }));
        };
        if (log.claimSource === undefined) return welcome();
        // A log shared by several hubs: fence the source's other writers first, so the resume point is final.
        chain = chain.then(async () => {
          if (failed) return;
          try {
            await log.claimSource?.(claimed);
          } catch (e) {
            failed = true;
            metrics.rejected.inc({ code: 'LOG_UNAVAILABLE' });
            return this.reject(call, 'LOG_UNAVAILABLE', e instanceof Error ? e.message : String(e));
          }
          welcome();
        });
        return;
      }
      if (session === null) {
        failed = true;
        return this.reject(call, 'PROTOCOL', 'the first message must be Hello');
      }
      if (m.case === 'heartbeat') {
        session.lastHeartbeat = m.value;
        return;
      }
      if (m.case === 'event') {
        const e = m.value;
        const result = e.kind === 'command.result' && typeof e.payload === 'object' && e.payload !== null ? (e.payload as { ok?: unknown; error?: { message?: unknown } }) : null;
        const failedCommand = result !== null && result.ok === false;
        this.options.events?.publish({
          kind: `agent.${e.kind}`,
          workspace: session.workspace,
          source: sourceKey,
          severity: failedCommand ? 'warning' : 'info',
          message: failedCommand ? `agent ${session.agentId} could not run a command: ${String(result.error?.message ?? 'no reason given')}` : `agent ${session.agentId} reported ${e.kind}`,
          data: { payload: e.payload, commandId: e.commandId, agentTimeUs: Number(e.atUs) },
        });
        return;
      }
      if (m.case !== 'batch') return;
      const { header, bytes } = m;
      const key = sourceKey;
      const current = session;
      const workspace = session.workspace;
      // A log that takes concurrent appends gets each batch at once (it groups them into one write); acks stay in order.
      // Versions the log did not hold before this batch: announced once the batch is durable.
      let fresh = header.schemas.filter((sc) => log.schema(key, sc.schema, sc.table, sc.version) === undefined);
      const early = log.concurrentAppends === true ? log.append(key, header.sequence, header.sourcePosition, bytes, header.schemas) : null;
      early?.catch(() => undefined);
      chain = chain.then(async () => {
        if (failed) return;
        try {
          if (early === null) fresh = header.schemas.filter((sc) => log.schema(key, sc.schema, sc.table, sc.version) === undefined);
          const result = await (early ?? log.append(key, header.sequence, header.sourcePosition, bytes, header.schemas));
          if (result === 'appended') {
            for (const sc of fresh) for (const e of schemaEvents(key, workspace, log.schema(key, sc.schema, sc.table, sc.version - 1), sc)) this.options.events?.publish(e);
            metrics.eventsIn.inc({ source: key }, header.eventCount);
            metrics.batchesIn.inc({ source: key });
          } else metrics.duplicates.inc({ source: key });
          if (header.commitBoundary && header.sourceTimeUs > current.freshUntilUs) current.freshUntilUs = header.sourceTimeUs;
          this.send(call, create(HubMessageSchema, { body: { case: 'ack', value: create(AckSchema, { sequence: BigInt(header.sequence) }) } }));
        } catch (e) {
          failed = true;
          const err = e instanceof HubError ? e : new HubError('log-unavailable', 'appending to the log failed', { cause: e });
          const code = err.kind === 'sequence-conflict' ? 'SEQUENCE_CONFLICT' : err.kind === 'sequence-gap' ? 'SEQUENCE_GAP' : 'LOG_UNAVAILABLE';
          metrics.rejected.inc({ code });
          if (err.kind === 'sequence-conflict') logger.error('REFUSED: a batch sequence was replayed with different content', { source: key, sequence: header.sequence });
          this.reject(call, code, err.message, header.sequence);
        }
      });
    });
    const done = (): void => {
      if (session !== null && this.active.get(sourceKey)?.call === call) {
        this.active.delete(sourceKey);
        session.connected = false;
        logger.info('agent disconnected', { source: sourceKey });
      }
    };
    call.on('end', () => {
      done();
      call.end();
    });
    call.on('error', done);
    call.on('close', done);
    call.on('cancelled', done);
  }
}
