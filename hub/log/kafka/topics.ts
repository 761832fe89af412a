/**
 * Topic names. Kafka allows [A-Za-z0-9._-] up to 249 characters; any other
 * character of a schema or table name becomes "_" (as Debezium does), and two
 * tables that would land in one topic are refused rather than mixed.
 */
import { HubError } from '../../errors.js';
import type { KafkaLogConfig } from './config.js';

const MAX_TOPIC = 249;

/** The single-partition topic holding every ingested batch as the agent sent it (one dense offset space for sinks). */
export function ingestTopic(prefix: string): string {
  return `${prefix}.ingest`;
}

/** The compacted topic holding source checkpoints and table schemas. */
export function stateTopic(prefix: string): string {
  return `${prefix}.state`;
}

/** Consumer group of one sink. */
export function sinkGroup(prefix: string, sink: string): string {
  return `${prefix}.sink.${sink}`;
}

/** Transactional id of one source: the newest hub to claim the source fences every older writer of it. */
export function transactionalId(prefix: string, sourceKey: string): string {
  return `${prefix}.source.${sourceKey}`;
}

function sanitize(part: string): string {
  return part.replace(/[^A-Za-z0-9_-]/g, '_');
}

/** Maps source tables to topic names, refusing names that collide or exceed Kafka's limit. */
export class TopicNamer {
  private readonly byTopic = new Map<string, string>();
  private readonly byTable = new Map<string, string>();

  constructor(private readonly config: Pick<KafkaLogConfig, 'topicPrefix' | 'tableTopic'>) {}

  tableTopic(sourceKey: string, schema: string, table: string): string {
    const id = `${sourceKey}\u0000${schema}\u0000${table}`;
    const known = this.byTable.get(id);
    if (known !== undefined) return known;
    const slash = sourceKey.indexOf('/');
    const parts: Record<string, string> = {
      prefix: this.config.topicPrefix,
      agent: sanitize(sourceKey.slice(0, slash)),
      source: sanitize(sourceKey.slice(slash + 1)),
      schema: sanitize(schema),
      table: sanitize(table),
    };
    const topic = this.config.tableTopic.replace(/\{(prefix|agent|source|schema|table)\}/g, (_, p: string) => parts[p] ?? '');
    const label = `${sourceKey} ${schema}.${table}`;
    if (topic.length > MAX_TOPIC) throw new HubError('schema', `${label}: topic name ${topic.slice(0, 60)}... is longer than Kafka's ${MAX_TOPIC} characters`);
    if (topic === '.' || topic === '..') throw new HubError('schema', `${label}: "${topic}" is not a legal topic name`);
    const other = this.byTopic.get(topic);
    if (other !== undefined && other !== label) throw new HubError('schema', `${label} and ${other} would both be written to topic ${topic}; rename one or change log.tableTopic`);
    this.byTopic.set(topic, label);
    this.byTable.set(id, topic);
    return topic;
  }
}
