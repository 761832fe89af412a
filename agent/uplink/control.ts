/**
 * The agent's side of the control channel that rides on the uplink stream.
 *
 * - Commands (hub → agent): components register a handler per kind with
 *   `handle`. Each command is answered with a `command.result` event carrying
 *   the command's id: `{ ok: true, result }` or `{ ok: false, error: { code, message } }`.
 *   A kind nobody handles is answered with code UNKNOWN_COMMAND, a payload that
 *   is not JSON with BAD_PAYLOAD; neither stops anything.
 * - Events (agent → hub): `emit` queues a JSON payload for the hub. The queue
 *   lives in memory, holds at most `maxQueued` events (the oldest are dropped
 *   first) and is drained while a stream is up. Events are NOT durable: state
 *   that matters (snapshot progress, doctor findings) must be re-emitted
 *   periodically by its owner, and nothing in the durability chain depends on them.
 * - Source credentials stay home: every occurrence of a `redact` string (the
 *   source user name and password) in an event's JSON is replaced by
 *   `[redacted]` before it is queued, whatever put it there (a doctor finding,
 *   a database error quoted in a command's answer).
 */
import { create } from '@bufbuild/protobuf';
import { AgentEventSchema, type AgentEvent, type Command } from '../../proto/gen/tributary/v1/uplink_pb.js';
import type { Logger } from '../log.js';

export type CommandHandler = (payload: unknown, id: string) => Promise<unknown>;

/** An error a handler throws to answer with a specific, stable code. */
export class CommandError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Largest event payload the hub accepts (hub/ingest/wire.ts). */
export const MAX_EVENT_PAYLOAD_BYTES = 64 << 10;
const KIND = /^[a-z][a-z0-9_.-]{0,63}$/;

/**
 * Matches `value` as it appears inside JSON text, as a whole token: not when
 * it is part of a longer name (user "pg" stays in "pg_replication_slots").
 */
function redaction(value: string): RegExp {
  const inJson = JSON.stringify(value).slice(1, -1).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(?<![A-Za-z0-9_$])${inJson}(?![A-Za-z0-9_$])`, 'g');
}

export class AgentControl {
  private readonly handlers = new Map<string, CommandHandler>();
  private readonly queue: AgentEvent[] = [];
  private sender: ((e: AgentEvent) => void) | null = null;
  dropped = 0;

  private readonly redactions: RegExp[];

  constructor(
    private readonly log: Logger,
    private readonly maxQueued = 1000,
    redact: readonly string[] = [],
  ) {
    this.redactions = redact.filter((r) => r.length > 0).map(redaction);
  }

  /** Registers the handler of one command kind; a second registration for the kind replaces the first. */
  handle(kind: string, handler: CommandHandler): void {
    if (!KIND.test(kind)) throw new Error(`command kind ${JSON.stringify(kind)} must match ${KIND}`);
    this.handlers.set(kind, handler);
  }

  /**
   * Queues an event for the hub. Returns false (and logs) when the payload
   * cannot be sent: not JSON-serialisable or larger than 64 KiB.
   */
  emit(kind: string, payload: unknown, commandId = ''): boolean {
    if (!KIND.test(kind)) throw new Error(`event kind ${JSON.stringify(kind)} must match ${KIND}`);
    let bytes: Uint8Array;
    try {
      let text = JSON.stringify(payload) ?? 'null';
      for (const r of this.redactions) text = text.replace(r, '[redacted]');
      bytes = Buffer.from(text, 'utf8');
    } catch (e) {
      this.log.warn('event payload is not JSON; not sent', { kind, error: e });
      return false;
    }
    if (bytes.length > MAX_EVENT_PAYLOAD_BYTES) {
      this.log.warn('event payload too large; not sent', { kind, bytes: bytes.length, limit: MAX_EVENT_PAYLOAD_BYTES });
      return false;
    }
    const event = create(AgentEventSchema, { kind, payload: bytes, atUs: BigInt(Date.now()) * 1000n, commandId });
    if (this.sender !== null) this.sender(event);
    else {
      this.queue.push(event);
      if (this.queue.length > this.maxQueued) {
        this.queue.shift();
        this.dropped++;
      }
    }
    return true;
  }

  /** The uplink attaches a connected stream: queued events go out first, in order. */
  attach(send: (e: AgentEvent) => void): void {
    this.sender = send;
    for (const e of this.queue.splice(0)) send(e);
  }

  /** The stream ended: events queue until the next attach. */
  detach(): void {
    this.sender = null;
  }

  /** Runs the command's handler and answers it; never throws. */
  async dispatch(command: Command): Promise<void> {
    const { id, kind } = command;
    const answer = (body: { ok: true; result: unknown } | { ok: false; error: { code: string; message: string } }): void => {
      this.emit('command.result', { id, kind, ...body }, id);
    };
    const handler = this.handlers.get(kind);
    if (handler === undefined) return answer({ ok: false, error: { code: 'UNKNOWN_COMMAND', message: `this agent has no handler for command kind "${kind}"` } });
    let payload: unknown;
    try {
      payload = command.payload.length === 0 ? null : JSON.parse(Buffer.from(command.payload).toString('utf8'));
    } catch {
      return answer({ ok: false, error: { code: 'BAD_PAYLOAD', message: `the payload of command "${kind}" is not JSON` } });
    }
    try {
      const result = await handler(payload, id);
      answer({ ok: true, result: result ?? null });
    } catch (e) {
      const code = e instanceof CommandError ? e.code : 'COMMAND_FAILED';
      const message = e instanceof Error ? e.message : String(e);
      if (!(e instanceof CommandError)) this.log.warn('command failed', { kind, id, error: e });
      answer({ ok: false, error: { code, message } });
    }
  }
}
