/**
 * The agent's only network connection to the hub: one outbound bidirectional
 * gRPC stream. Sends spooled batches with a window of unacknowledged ones,
 * trims the spool when the hub acknowledges (the hub acks only what is
 * durable in its log), and resumes from the hub's Welcome after any
 * reconnect, so a batch is resent until acknowledged and never skipped.
 */
import { create } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { AgentMessageSchema, HeartbeatSchema, HelloSchema, type HubMessage } from '../../proto/gen/tributary/v1/uplink_pb.js';
import { Backoff } from '../backoff.js';
import type { ChangeBuffer } from '../buffer/change-buffer.js';
import { AgentError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ChangeSource } from '../sources/change-source.js';
import type { AgentControl } from './control.js';
import { agentUplinkDefinition, encodedBatchMessage, type OutgoingAgentMessage } from './wire.js';

export interface UplinkOptions {
  readonly address: string;
  readonly agentId: string;
  readonly agentVersion: string;
  readonly source: ChangeSource;
  readonly sourceKind: string;
  readonly buffer: ChangeBuffer;
  readonly log: Logger;
  /** Most batches sent but not yet acknowledged. */
  readonly window: number;
  readonly heartbeatMs: number;
  /** TLS channel credentials (mutual TLS), or insecure ones in the development plaintext mode. */
  readonly credentials: grpc.ChannelCredentials;
  /** Commands from the hub and events to it (control.ts); absent = commands are ignored. */
  readonly control?: AgentControl | undefined;
}

export interface UplinkStatus {
  readonly connected: boolean;
  readonly sentSequence: number;
  readonly ackedSequence: number;
  readonly lastError: string | null;
}

const UplinkClient = grpc.makeGenericClientConstructor(agentUplinkDefinition, 'Uplink');

/** Reject codes after which reconnecting cannot help: an operator must act. */
const FINAL_REJECTIONS = new Set(['SEQUENCE_CONFLICT', 'UNKNOWN_AGENT', 'REVOKED', 'UNAUTHENTICATED', 'IDENTITY_MISMATCH', 'WORKSPACE_MISMATCH']);
type Call = grpc.ClientDuplexStream<OutgoingAgentMessage, HubMessage>;

export class Uplink {
  private connected = false;
  private sent = 0;
  private acked = 0;
  private lastError: string | null = null;
  private client: grpc.Client;
  private nextCredentials: grpc.ChannelCredentials | null = null;
  private endSession: (() => void) | null = null;
  /** Wakes the send loop when an ack opens the window. */
  private ackWaiter: (() => void) | null = null;

  constructor(private readonly options: UplinkOptions) {
    this.client = Uplink.connect(options.address, options.credentials);
  }

  private static connect(address: string, credentials: grpc.ChannelCredentials): grpc.Client {
    return new UplinkClient(address, credentials, {
      'grpc.max_send_message_length': 64 << 20,
      'grpc.max_receive_message_length': 4 << 20,
      'grpc.keepalive_time_ms': 15_000,
      'grpc.keepalive_timeout_ms': 10_000,
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 5_000,
    });
  }

  /**
   * Switches to renewed credentials: the current stream ends cleanly and the
   * next one uses a new connection. Unacknowledged batches stay in the spool
   * and are resent after the hub's Welcome, so nothing is lost.
   */
  useCredentials(credentials: grpc.ChannelCredentials): void {
    this.nextCredentials = credentials;
    this.endSession?.();
  }

  status(): UplinkStatus {
    return { connected: this.connected, sentSequence: this.sent, ackedSequence: this.acked, lastError: this.lastError };
  }

  /** Keeps a stream open until the signal aborts; rejects only when the hub refuses this agent. */
  async run(signal: AbortSignal): Promise<void> {
    const backoff = new Backoff({ initialMs: 200, maxMs: 10_000 });
    while (!signal.aborted) {
      if (this.nextCredentials !== null) {
        this.client.close();
        this.client = Uplink.connect(this.options.address, this.nextCredentials);
        this.nextCredentials = null;
      }
      try {
        await this.session(signal, () => backoff.reset());
        if (this.nextCredentials !== null) continue; // rotation: reconnect at once
      } catch (cause) {
        const err = cause instanceof AgentError ? cause : new AgentError('hub-unavailable', 'hub connection failed', { cause });
        this.lastError = err.message;
        if (err.kind === 'hub-rejected') {
          this.options.log.error('hub refused this agent', { error: err });
          throw err;
        }
        if (!signal.aborted) this.options.log.warn('hub connection lost; reconnecting', { error: err });
      } finally {
        this.connected = false;
      }
      await backoff.wait(signal);
    }
    this.client.close();
  }

  private session(signal: AbortSignal, onWelcome: () => void): Promise<void> {
    const { buffer, log } = this.options;
    const call: Call = this.client.makeBidiStreamRequest(
      agentUplinkDefinition.stream.path,
      agentUplinkDefinition.stream.requestSerialize,
      agentUplinkDefinition.stream.responseDeserialize,
      new grpc.Metadata(),
      { deadline: Infinity },
    );
    const session = new AbortController();
    const stopSession = (): void => session.abort();
    this.endSession = stopSession;
    signal.addEventListener('abort', stopSession, { once: true });
    return new Promise<void>((resolve, reject) => {
      let next = 0;
      let settled = false;
      const finish = (err?: AgentError): void => {
        if (settled) return;
        settled = true;
        session.abort();
        signal.removeEventListener('abort', stopSession);
        clearInterval(heartbeat);
        this.options.control?.detach();
        call.end();
        call.cancel();
        if (err) reject(err);
        else resolve();
      };
      const heartbeat = setInterval(() => this.sendHeartbeat(call), this.options.heartbeatMs);
      session.signal.addEventListener('abort', () => finish(), { once: true });
      call.on('data', (m: HubMessage) => {
        switch (m.body.case) {
          case 'welcome': {
            const acked = Number(m.body.value.ackedSequence);
            const state = buffer.state();
            if (acked < state.firstSequence - 1)
              return finish(
                new AgentError(
                  'hub-rejected',
                  `hub ${m.body.value.hubId} holds up to sequence ${acked}, but this agent already deleted batches up to ${state.firstSequence - 1} after an earlier acknowledgement: the hub lost data it had acknowledged`,
                ),
              );
            if (acked > state.committedSequence)
              return finish(new AgentError('hub-rejected', `hub acknowledges sequence ${acked} beyond this spool's last (${state.committedSequence}): the spool was replaced; use a new source id or a fresh hub log`));
            this.connected = true;
            this.acked = acked;
            next = acked + 1;
            onWelcome();
            log.info('connected to hub', { hub: m.body.value.hubId, resumeAt: next });
            void buffer.acknowledge(acked);
            this.options.control?.attach((value) => call.write(create(AgentMessageSchema, { body: { case: 'event', value } })));
            void this.pump(call, () => next, (n) => (next = n), session.signal).catch((e: unknown) => finish(e instanceof AgentError ? e : new AgentError('internal', 'uplink send loop failed', { cause: e })));
            return;
          }
          case 'ack': {
            const seq = Number(m.body.value.sequence);
            if (seq > this.acked) {
              this.acked = seq;
              void buffer.acknowledge(seq);
              this.ackWaiter?.();
            }
            return;
          }
          case 'command': {
            const control = this.options.control;
            if (control === undefined) log.warn('hub sent a command this agent cannot take', { kind: m.body.value.kind });
            else void control.dispatch(m.body.value);
            return;
          }
          case 'reject': {
            const { code, message, sequence } = m.body.value;
            log.error('hub rejected a batch', { code, message, sequence });
            const kind = FINAL_REJECTIONS.has(code) ? 'hub-rejected' : 'hub-unavailable';
            return finish(new AgentError(kind, `hub rejected: ${code}: ${message}`));
          }
          default:
            return;
        }
      });
      call.on('error', (e: grpc.ServiceError) => finish(new AgentError('hub-unavailable', `gRPC ${grpc.status[e.code] ?? e.code}: ${e.details}`, { cause: e })));
      call.on('end', () => finish(new AgentError('hub-unavailable', 'hub closed the stream')));
      const state = buffer.state();
      call.write(
        create(AgentMessageSchema, {
          body: {
            case: 'hello',
            value: create(HelloSchema, {
              agentId: this.options.agentId,
              sourceId: this.options.source.id,
              sourceKind: this.options.sourceKind,
              agentVersion: this.options.agentVersion,
              spoolFirstSequence: BigInt(state.firstSequence),
              spoolLastSequence: BigInt(state.committedSequence),
            }),
          },
        }),
      );
    });
  }

  /** Sends batches in sequence order, never more than `window` ahead of the last ack. */
  private async pump(call: Call, getNext: () => number, setNext: (n: number) => void, signal: AbortSignal): Promise<void> {
    const { buffer, window } = this.options;
    while (!signal.aborted) {
      const next = getNext();
      const room = this.acked + window - next + 1;
      if (room <= 0) {
        await this.nextAck(signal);
        continue;
      }
      const batches = buffer.read(next, Math.min(room, 64), 2 << 20);
      if (batches.length === 0) {
        await buffer.waitFor(next - 1, signal);
        continue;
      }
      for (const b of batches) {
        if (b.sequence !== getNext()) throw new AgentError('spool-corrupt', `spool returned sequence ${b.sequence} where ${getNext()} was expected`);
        const ok = call.write(encodedBatchMessage(b.bytes));
        setNext(b.sequence + 1);
        this.sent = b.sequence;
        if (!ok) await new Promise<void>((r) => call.once('drain', () => r()));
        if (signal.aborted) return;
      }
    }
  }

  private nextAck(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.ackWaiter = null;
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.ackWaiter = done;
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private sendHeartbeat(call: Call): void {
    const s = this.options.source.status();
    const b = this.options.buffer.state();
    call.write(
      create(AgentMessageSchema, {
        body: {
          case: 'heartbeat',
          value: create(HeartbeatSchema, {
            sentAtUs: BigInt(Date.now()) * 1000n,
            spooledPosition: s.confirmedPosition,
            serverPosition: s.serverPosition,
            sourceHeartbeatIntervalMs: s.heartbeatIntervalMs,
            spoolBytes: BigInt(Math.max(0, b.bytes)),
            spoolLimitBytes: BigInt(b.maxBytes),
            backPressure: s.backPressure,
          }),
        },
      }),
    );
  }
}
