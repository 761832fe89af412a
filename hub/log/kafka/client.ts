/** The kafkajs client, its log lines routed into the hub's structured log, and topic creation. */
import { Kafka, logLevel, type Admin, type ITopicConfig, type LogEntry } from 'kafkajs';
import type { Logger } from '../../log.js';
import type { KafkaLogConfig } from './config.js';

export function createKafka(config: Pick<KafkaLogConfig, 'brokers' | 'clientId'>, logger: Logger): Kafka {
  const log = logger.child('kafka');
  return new Kafka({
    clientId: config.clientId,
    brokers: [...config.brokers],
    connectionTimeout: 5_000,
    requestTimeout: 30_000,
    // Retries span a broker failover (session timeout plus leader election) without giving up.
    retry: { initialRetryTime: 100, maxRetryTime: 2_000, retries: 12 },
    logLevel: logLevel.WARN,
    logCreator: () => (entry: LogEntry) => {
      const { message, ...rest } = entry.log;
      // kafkajs logs every retry it makes (CONCURRENT_TRANSACTIONS after each commit, a broker away) as an error;
      // a failure that outlasts its retries reaches the hub as a HubError and is logged there.
      log.debug(message, { namespace: entry.namespace, ...rest });
    },
  });
}

/** Creates the topics that do not exist yet (an existing topic is left as it is). */
export async function ensureTopics(admin: Admin, topics: readonly ITopicConfig[]): Promise<void> {
  if (topics.length === 0) return;
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((t) => !existing.has(t.topic));
  if (missing.length === 0) return;
  try {
    await admin.createTopics({ topics: [...missing], waitForLeaders: true });
  } catch (e) {
    // Another hub may have created them in between: fine if every topic exists now.
    const now = new Set(await admin.listTopics());
    if (!missing.every((t) => now.has(t.topic))) throw e;
  }
}
