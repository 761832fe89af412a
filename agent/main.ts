/**
 * `tributary agent --config FILE`: validate the configuration, open the
 * spool, then run the source (database → spool) and the uplink (spool → hub)
 * side by side until SIGTERM/SIGINT, on which both stop and the spool is
 * flushed and closed.
 */
import { loadAgentConfig, TABLE as PG_TABLE, type AgentConfig } from './config.js';
import { registerPipelineApply } from './pipeline/apply-handler.js';
import { initialTables } from './pipeline/tables-file.js';
import { TABLE as MYSQL_TABLE } from './sources/mysql/config.js';
import { LmdbChangeBuffer } from './buffer/lmdb-change-buffer.js';
import type { ChangeBuffer } from './buffer/change-buffer.js';
import { EncryptedChangeBuffer, parseSpoolKey } from './buffer/encrypted-change-buffer.js';
import * as grpc from '@grpc/grpc-js';
import { AgentTls } from './enroll/agent-tls.js';
import { runDoctorMonitor } from './doctor/monitor.js';
import { AgentError } from './errors.js';
import { StatusFile } from './health/status-file.js';
import { createLogger, type Logger } from './log.js';
import { PostgresSource } from './sources/postgres/source.js';
import { MySqlSource } from './sources/mysql/source.js';
import { AgentControl } from './uplink/control.js';
import { Uplink } from './uplink/uplink-client.js';

export const AGENT_VERSION = '0.1.0';

export interface RunOptions {
  /** Refresh this status file for container health checks (`tributary health`). */
  readonly healthFile?: string | undefined;
}

export async function runAgent(config: AgentConfig, log: Logger, signal: AbortSignal, options: RunOptions = {}): Promise<void> {
  // Enrollment (first start) happens before the spool opens: a refused token changes nothing on disk but the credentials directory.
  const tls = config.hub.plaintext ? null : await AgentTls.open(config.hub, config.agentId, log.child('tls'), signal);
  const spool = await LmdbChangeBuffer.open({ path: config.spool.path, maxBytes: config.spool.maxBytes });
  const spoolKey = config.spool.encryptionKey === null ? null : parseSpoolKey(config.spool.encryptionKey.reveal());
  const buffer: ChangeBuffer = spoolKey === null ? spool : new EncryptedChangeBuffer(spool, spoolKey);
  try {
    const control = new AgentControl(log.child('control'), 1000, [config.source.user, config.source.password?.reveal() ?? '']);
    const tables = initialTables(config.spool.path, config.source.tables);
    const sourceOptions = { buffer, log: log.child('source'), batchLimit: { events: config.spool.batchEvents, bytes: config.spool.batchBytes }, control, tables };
    const source =
      config.source.kind === 'mysql' ? new MySqlSource({ ...sourceOptions, config: config.source }) : new PostgresSource({ ...sourceOptions, config: config.source });
    registerPipelineApply({ control, source, dir: config.spool.path, pattern: config.source.kind === 'mysql' ? MYSQL_TABLE : PG_TABLE, log: log.child('pipeline') });
    const uplink = new Uplink({
      address: config.hub.address,
      agentId: config.agentId,
      agentVersion: AGENT_VERSION,
      source,
      sourceKind: config.source.kind,
      buffer,
      log: log.child('uplink'),
      window: 16,
      heartbeatMs: 1000,
      credentials: tls?.channel() ?? grpc.credentials.createInsecure(),
      control,
    });
    await using _health = options.healthFile === undefined ? undefined : new StatusFile({
      path: options.healthFile,
      intervalMs: 5000,
      snapshot: () => ({ hub: uplink.status(), source: source.status() }),
      onError: (e) => log.warn('cannot write the health status file', { path: options.healthFile, error: e }),
    });
    if (config.hub.plaintext) log.warn('PLAINTEXT connection to the hub (hub.plaintext = true): NOT encrypted, NOT authenticated; development only', { hub: config.hub.address });
    const stop = new AbortController();
    const onAbort = (): void => stop.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    // If either side stops for good, stop the other: the agent exits and its supervisor restarts it.
    const results = await Promise.allSettled([
      source.run(stop.signal).finally(() => stop.abort()),
      uplink.run(stop.signal).finally(() => stop.abort()),
      ...(tls === null ? [] : [tls.rotate(stop.signal, (c) => uplink.useCredentials(c)).finally(() => stop.abort())]),
      // The doctor only reports: its end never stops the agent.
      ...(config.doctor.intervalSeconds === 0 ? [] : [runDoctorMonitor({
        config: config.source, intervalMs: config.doctor.intervalSeconds * 1000, log: log.child('doctor'),
        emit: (report) => void control.emit('doctor.findings', report), position: () => source.status().confirmedPosition, streaming: () => source.status().connected,
      }, stop.signal).catch((e: unknown) => log.warn('the continuous doctor stopped', { error: e }))]),
    ]);
    signal.removeEventListener('abort', onAbort);
    for (const r of results) if (r.status === 'rejected') throw r.reason;
  } finally {
    await buffer[Symbol.asyncDispose]();
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  const i = argv.indexOf('--config');
  const file = i >= 0 ? argv[i + 1] : undefined;
  if (file === undefined) {
    process.stderr.write('usage: tributary agent --config FILE\n');
    return 2;
  }
  let config: AgentConfig;
  try {
    config = loadAgentConfig(file);
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  const log = createLogger(config.logLevel, { process: 'agent', agent: config.agentId });
  const controller = new AbortController();
  const shutdown = (sig: string): void => {
    log.info('shutting down', { signal: sig });
    controller.abort();
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  try {
    log.info('agent starting', { version: AGENT_VERSION, source: config.source.id, spool: config.spool.path });
    await runAgent(config, log, controller.signal, { healthFile: process.env['TRIBUTARY_HEALTH_FILE'] });
    log.info('agent stopped');
    return 0;
  } catch (e) {
    log.error('agent failed', { error: e });
    return e instanceof AgentError && e.kind === 'config' ? 2 : 1;
  }
}
