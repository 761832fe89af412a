import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FieldReader } from '../../config.js';
import { parseMySqlSource } from './config.js';
import { checkGrants, checkSettings } from './preflight.js';
import { schemaFilters } from './source.js';

const config = parseMySqlSource(new FieldReader({}), { kind: 'mysql', id: 's', user: 'u', serverId: 7 });
const good = new Map([
  ['version', '10.11.6-MariaDB-log'],
  ['server_id', '1'],
  ['log_bin', 'ON'],
  ['binlog_format', 'ROW'],
  ['binlog_row_image', 'FULL'],
  ['binlog_row_metadata', 'FULL'],
  ['log_bin_compress', 'OFF'],
  ['binlog_expire_logs_seconds', '0'],
  ['expire_logs_days', '3'],
]);

describe('MySQL pre-flight rules', () => {
  it('accepts a good server and detects MariaDB', () => {
    assert.equal(checkSettings(good, config).mariadb, true);
  });

  it('converts expire_logs_days to seconds for the retention check', () => {
    assert.throws(() => checkSettings(new Map([...good, ['expire_logs_days', '0.5']]), config), /expire_logs_days is "0.5": binlogs expire after 43200 s/);
  });

  it('explains an old server without binlog_row_metadata', () => {
    const v = new Map(good);
    v.delete('binlog_row_metadata');
    assert.throws(() => checkSettings(v, config), /binlog_row_metadata is "unsupported"/);
  });

  it('reads grants', () => {
    checkGrants(["GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `u`@`%`", 'GRANT SELECT ON `shop`.* TO `u`@`%`'], 'u');
    checkGrants(['GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost`'], 'root');
    assert.throws(() => checkGrants(['GRANT USAGE ON *.* TO `u`@`%`'], 'u'), /lacks REPLICATION SLAVE, REPLICATION CLIENT, SELECT/);
  });

  it('builds binlog schema filters from table patterns', () => {
    assert.deepEqual(schemaFilters(['shop.*', 'crm.users', 'crm.orgs']).include, { shop: true, crm: ['users', 'orgs'] });
    assert.deepEqual(Object.keys(schemaFilters([]).exclude ?? {}), ['mysql', 'information_schema', 'performance_schema', 'sys']);
    // the heartbeat table is read too (its rows become freshness, never changes)
    assert.deepEqual(schemaFilters(['shop.*'], 'tributary.heartbeat').include, { shop: true, tributary: ['heartbeat'] });
    assert.equal(schemaFilters([], 'tributary.heartbeat').include, undefined);
  });
});
