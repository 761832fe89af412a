/**
 * `tributary hub --config FILE`: open the log, accept agents over gRPC, run
 * one worker per sink, serve the HTTP API; on SIGTERM/SIGINT stop accepting,
 * let in-flight appends finish, stop the workers and close the log.
 */
import { serve } from '@hono/node-server';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createApi } from './api/app.js';
import { AlertService } from './alerts/alert-service.js';
import { openHubSecurity } from './auth/hub-security.js';
import { loadHubConfig, type HubConfig } from './config.js';
import { HubError } from './errors.js';
import { HubEvents } from './events/hub-events.js';
import { IngestServer } from './ingest/ingest-server.js';
import { serverPositionsOf, updateSourceMetrics } from './ingest/source-freshness.js';
import { PipelinePush } from './pipelines/agent-push.js';
import { PipelineRegistry } from './pipelines/pipeline-registry.js';
import { PipelineStore } from './pipelines/pipeline-store.js';
import { createLogger, type Logger } from './log.js';
import { LmdbChangeLog } from './log/embedded/lmdb-log.js';
import { KafkaChangeLog } from './log/kafka/kafka-log.js';
import { KafkaSinkDriver } from './log/kafka/sink-driver.js';
import { HubMetrics } from './metrics.js';
import { createSink } from './sinks/create.js';
import { SinkWorker } from './sinks/worker.js';

export interface RunningHub {
  readonly grpcPort: number;
  readonly httpPort: number;
  stop(): Promise<void>;
}

export async function startHub(config: HubConfig, logger: Logger): Promise<RunningHub> {
  const log = config.log.kind === 'kafka' ? await KafkaChangeLog.open(config.log, config.hubId, logger) : new LmdbChangeLog(config.log.path);
  mkdirSync(config.security.path, { recursive: true, mode: 0o700 });
  const pipelineStore = new PipelineStore(join(config.security.path, 'pipelines'));
  const pipelines = await PipelineRegistry.open(pipelineStore, config.pipelines, logger.child('pipelines'));
  const security = openHubSecurity(config.security, config.hubId, (agentId) => pipelines.workspacesOfAgent(agentId), logger.child('security'));
  const metrics = new HubMetrics();
  const events = new HubEvents(logger.child('events'));
  const ingest = new IngestServer({ events, hubId: config.hubId, log, logger: logger.child('ingest'), metrics, maxMessageBytes: config.grpc.maxMessageBytes, credentials: security.credentials, security: security.stream });
  const stop = new AbortController();
  const positions = serverPositionsOf(ingest.sessions);
  const workers = config.sinks.map((s) => {
    const sources = pipelines.routesFor(s.name);
    const sink = createSink(s, logger.child('sink'));
    const worker = log instanceof LmdbChangeLog ? new SinkWorker(sink, log, sources, metrics, logger.child('sink'), undefined, positions) : new KafkaSinkDriver(sink, log, sources, metrics, logger.child('sink'), undefined, positions);
    return { sink, worker };
  });
  const running = workers.map((w) => w.worker.run(stop.signal).catch((e: unknown) => logger.error('sink worker stopped', { sink: w.sink.name, error: e })));
  const metricsTimer = setInterval(() => {
    workers.forEach((w) => w.worker.updateMetrics());
    updateSourceMetrics(metrics, ingest.sessions, log);
  }, 1000);
  const compactTimer = setInterval(() => {
    if (log instanceof LmdbChangeLog) void log.compact(config.sinks.map((s) => s.name)).catch((e: unknown) => logger.warn('log compaction failed', { error: e }));
  }, 30_000);
  const grpcPort = await ingest.listen(config.grpc.listen);
  const push = new PipelinePush(pipelines, ingest, () => ingest.sessions, logger.child('pipelines'));
  const stopPush = push.start(events);
  const sinkWorkspaces = new Map(config.sinks.map((s) => [s.name, 'workspace' in s ? s.workspace : 'default']));
  const startedAtMs = Date.now();
  const alerts = new AlertService({ config: config.alerts, hubId: config.hubId, stateDir: config.security.path, events, logger: logger.child('alerts'),
    view: () => ({ startedAtMs, sessions: ingest.sessions, pipelines: pipelines.all().map(({ tables: _tables, ...p }) => p), sinks: workers.map((w) => w.worker.status()), sinkWorkspaces, logHead: log.headOffset() }) });
  alerts.start();
  const app = createApi({ config, log, metrics, sessions: () => ingest.sessions, sinks: () => workers.map((w) => w.worker.status()), security, events, ingest, alerts, pipelines, push });
  const [host, portText] = splitAddress(config.http.listen);
  const http = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: host, port: Number(portText) }, () => resolve(s));
  });
  const address = http.address();
  const httpPort = typeof address === 'object' && address !== null ? address.port : Number(portText);
  logger.info('hub listening', { grpc: `${host}:${grpcPort}`, http: `${host}:${httpPort}`, log: config.log.kind === 'kafka' ? config.log.brokers.join(',') : config.log.path });
  return {
    grpcPort,
    httpPort,
    async stop() {
      clearInterval(metricsTimer);
      clearInterval(compactTimer);
      stopPush();
      await ingest.close();
      await alerts[Symbol.asyncDispose]();
      stop.abort();
      await Promise.all(running);
      for (const w of workers) await w.sink[Symbol.asyncDispose]();
      const closed = new Promise<void>((resolve) => http.close(() => resolve()));
      // A client still uploading a refused body (or just idling) must not hold the hub open.
      if ('closeAllConnections' in http) http.closeAllConnections();
      await closed;
      await log[Symbol.asyncDispose]();
      await security[Symbol.asyncDispose]();
      await pipelineStore[Symbol.asyncDispose]();
    },
  };
}

function splitAddress(address: string): [string, string] {
  const i = address.lastIndexOf(':');
  return [address.slice(0, i).replace(/^\[|\]$/g, ''), address.slice(i + 1)];
}

export async function main(argv: readonly string[]): Promise<number> {
  const i = argv.indexOf('--config');
  const file = i >= 0 ? argv[i + 1] : undefined;
  if (file === undefined) {
    process.stderr.write('usage: tributary hub --config FILE\n');
    return 2;
  }
  let config: HubConfig;
  try {
    config = loadHubConfig(file);
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  const logger = createLogger(config.logLevel, { process: 'hub', hub: config.hubId });
  let hub: RunningHub;
  try {
    hub = await startHub(config, logger);
  } catch (e) {
    logger.error('hub failed to start', { error: e });
    return e instanceof HubError && e.kind === 'config' ? 2 : 1;
  }
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  logger.info('shutting down');
  await hub.stop();
  logger.info('hub stopped');
  return 0;
}
