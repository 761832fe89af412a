import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseHubConfig } from '../../config.js';
import { HubError } from '../../errors.js';
import { parseKafkaLogConfig } from './config.js';
import { TopicNamer, ingestTopic, stateTopic } from './topics.js';

function parse(v: unknown): { errors: string[]; config: ReturnType<typeof parseKafkaLogConfig> } {
  const errors: string[] = [];
  const config = parseKafkaLogConfig(v, 'log', errors);
  return { errors, config };
}

describe('Kafka log configuration', () => {
  it('fills defaults', () => {
    const { errors, config } = parse({ kind: 'kafka', brokers: ['k1:9092', 'k2:9092'] });
    assert.deepEqual(errors, []);
    assert.deepEqual(config, {
      kind: 'kafka', brokers: ['k1:9092', 'k2:9092'], topicPrefix: 'tributary', tableTopic: '{prefix}.{source}.{schema}.{table}', tombstones: false,
      replicationFactor: -1, tablePartitions: 1, statePartitions: 8, transactionTimeoutMs: 10_000, clientId: 'tributary-hub',
    });
    assert.deepEqual(parse({ kind: 'kafka', brokers: 'a:1, b:2' }).config.brokers, ['a:1', 'b:2']);
  });

  it('names every bad field', () => {
    const { errors } = parse({ kind: 'kafka', brokers: ['nope'], topicPrefix: 'has space', tableTopic: '{prefix}.{db}', tombstones: 'yes', replicationFactor: 0, tablePartitions: 0, extra: 1 });
    const paths = errors.map((e) => e.split(':')[0]);
    for (const p of ['log.extra', 'log.brokers[0]', 'log.topicPrefix', 'log.tableTopic', 'log.tombstones', 'log.replicationFactor', 'log.tablePartitions']) assert.ok(paths.includes(p), `${p} in ${errors.join('\n')}`);
    assert.ok(errors.some((e) => e.includes('{db}')));
    assert.ok(errors.some((e) => e.includes('must contain {table}')));
    assert.match(parse({ kind: 'kafka' }).errors.join('\n'), /log\.brokers: .*\(missing\)/);
  });

  it('is a member of the hub configuration, the embedded log staying the default kind', () => {
    const base = { pipelines: [], sinks: [] };
    const c = parseHubConfig({ ...base, log: { kind: 'kafka', brokers: ['127.0.0.1:9093'], tombstones: true }, security: { path: '/var/lib/hub-security' } }, {});
    assert.equal(c.log.kind, 'kafka');
    assert.equal(c.log.kind === 'kafka' && c.log.tombstones, true);
    assert.equal(parseHubConfig({ ...base, log: { path: '/x' } }, {}).log.kind, 'embedded');
    assert.throws(() => parseHubConfig({ ...base, log: { kind: 'kafka', path: '/x' } }, {}), (e: unknown) => e instanceof HubError && e.kind === 'config' && /log\.path: unknown field/.test(e.message) && /log\.brokers/.test(e.message));
    assert.throws(() => parseHubConfig({ ...base, log: { kind: 'pulsar' } }, {}), /log\.kind: "pulsar" is not supported \(expected "embedded" or "kafka"\)/);
    // No local log directory to put the CA and token hashes beside.
    assert.throws(() => parseHubConfig({ ...base, log: { kind: 'kafka', brokers: ['127.0.0.1:9093'] } }, {}), /security\.path: required when log\.kind is "kafka"/);
  });
});

describe('topic names', () => {
  it('follows the template and replaces illegal characters', () => {
    const n = new TopicNamer({ topicPrefix: 'tr', tableTopic: '{prefix}.{agent}.{source}.{schema}.{table}' });
    assert.equal(n.tableTopic('edge-1/shop', 'public', 'orders'), 'tr.edge-1.shop.public.orders');
    assert.equal(n.tableTopic('edge-1/shop', 'Sales Data', 'line.items$'), 'tr.edge-1.shop.Sales_Data.line_items_');
    assert.equal(ingestTopic('tr'), 'tr.ingest');
    assert.equal(stateTopic('tr'), 'tr.state');
  });

  it('refuses two tables in one topic and names longer than Kafka allows', () => {
    const n = new TopicNamer({ topicPrefix: 'tr', tableTopic: '{prefix}.{table}' });
    n.tableTopic('a/s', 'public', 'orders');
    assert.throws(() => n.tableTopic('a/s', 'billing', 'orders'), (e: unknown) => e instanceof HubError && e.kind === 'schema' && /both be written to topic tr\.orders/.test(e.message));
    assert.equal(n.tableTopic('a/s', 'public', 'orders'), 'tr.orders');
    assert.throws(() => n.tableTopic('a/s', 'public', 'x'.repeat(260)), /longer than Kafka's 249/);
  });
});
