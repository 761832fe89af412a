/** Builds the configured sink: one line per kind, the logic in each sink's folder. */
import type { SinkConfig } from '../config.js';
import type { Logger } from '../log.js';
import { DeferredSink } from './deferred.js';
import { PostgresSink } from './postgres/sink.js';
import type { Sink } from './sink.js';

export function createSink(config: SinkConfig, logger?: Logger): Sink {
  switch (config.kind) {
    case 'postgres':
      return new PostgresSink({
        name: config.name,
        connection: {
          host: config.host,
          port: config.port,
          database: config.database,
          user: config.user,
          ...(config.password === null ? {} : { password: config.password.reveal() }),
          application_name: `tributary-sink-${config.name}`,
        },
        schema: config.schema,
        deletePolicy: config.merge.deletePolicy,
        flush: config.merge.flush,
        dropColumns: config.merge.dropColumns,
        ...(logger === undefined ? {} : { logger }),
      });
    case 'duckdb':
      return new DeferredSink(config.name, config.merge.flush, async () => {
        const { DuckDbSink } = await import('./duckdb/sink.js');
        return new DuckDbSink({ name: config.name, path: config.path, schema: config.schema, deletePolicy: config.merge.deletePolicy, flush: config.merge.flush, dropColumns: config.merge.dropColumns, ...(logger === undefined ? {} : { logger }) });
      });
    case 'snowflake':
      return new DeferredSink(config.name, config.merge.flush, async () => new (await import('./snowflake/sink.js')).SnowflakeSink(config));
  }
}
