import { HubError } from '../../errors.js';
import type { Sink, SinkBatch } from '../sink.js';
import type { SnowflakeSinkConfig } from './config.js';

export class SnowflakeSink implements Sink {
  readonly name: string;
  constructor(config: SnowflakeSinkConfig) {
    this.name = config.name;
  }
  open(): Promise<bigint | null> {
    return Promise.reject(new HubError('config', `sink ${this.name}: the Snowflake sink is not available in this build`));
  }
  write(_batch: SinkBatch): Promise<void> {
    return Promise.reject(new HubError('config', `sink ${this.name}: the Snowflake sink is not available in this build`));
  }
  async [Symbol.asyncDispose](): Promise<void> {}
}
