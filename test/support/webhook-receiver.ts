/**
 * A real HTTP server on 127.0.0.1 (free port) that plays a webhook receiver:
 * it records every request and answers with the statuses it is told to
 * (a queue; then 200), or not at all ('hang'), to exercise retries.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { waitFor } from './pipeline.js';

export interface Received {
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: unknown;
  readonly status: number | 'hang';
}

export class WebhookReceiver {
  readonly received: Received[] = [];
  /** Answers for the next requests to each path, in order; when none is queued, 200. */
  private readonly answers = new Map<string, (number | 'hang')[]>();
  private readonly hung: ServerResponse[] = [];
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(): Promise<WebhookReceiver> {
    let self: WebhookReceiver | null = null;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => self?.respond(req, res, Buffer.concat(chunks).toString('utf8')));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const a = server.address();
    self = new WebhookReceiver(server, typeof a === 'object' && a !== null ? a.port : 0);
    return self;
  }

  /** The next requests to `path` get these answers (a status, or no answer at all). */
  answer(path: string, ...statuses: (number | 'hang')[]): void {
    this.answers.set(path, [...(this.answers.get(path) ?? []), ...statuses]);
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  private respond(req: IncomingMessage, res: ServerResponse, text: string): void {
    const status = this.answers.get(req.url ?? '')?.shift() ?? 200;
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    this.received.push({ path: req.url ?? '', headers: req.headers, body, status });
    if (status === 'hang') {
      this.hung.push(res);
      return;
    }
    res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'no');
  }

  /** Requests to `path` so far. */
  on(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }

  async waitFor(what: string, probe: (r: Received[]) => boolean, timeoutMs = 60_000): Promise<void> {
    await waitFor(what, () => probe(this.received), timeoutMs, 50);
  }

  async close(): Promise<void> {
    for (const res of this.hung) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
