/** Prometheus counters and gauges, rendered as text exposition format. Names carry their unit. */
type Labels = Record<string, string>;

function labelKey(l: Labels): string {
  const entries = Object.entries(l);
  if (entries.length === 0) return '';
  return `{${entries.map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')}}`;
}

export class Counter {
  private readonly values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string, readonly type: 'counter' | 'gauge' = 'counter') {}
  inc(labels: Labels = {}, by = 1): void {
    const k = labelKey(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  set(labels: Labels, value: number): void {
    this.values.set(labelKey(labels), value);
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    for (const [k, v] of this.values) lines.push(`${this.name}${k} ${v}`);
    return lines.join('\n');
  }
}

export class HubMetrics {
  readonly eventsIn = new Counter('tributary_hub_events_ingested_total', 'Change events appended to the hub log.');
  readonly batchesIn = new Counter('tributary_hub_batches_ingested_total', 'Batches appended to the hub log.');
  readonly duplicates = new Counter('tributary_hub_batches_duplicate_total', 'Retransmitted batches recognised and dropped.');
  readonly rejected = new Counter('tributary_hub_rejected_total', 'Streams or batches refused, by code.');
  readonly sinkOffset = new Counter('tributary_sink_offset', 'Hub log offset each sink has applied durably.', 'gauge');
  readonly sinkLagEntries = new Counter('tributary_sink_lag_batches', 'Log batches not yet applied by each sink.', 'gauge');
  readonly sinkLagSeconds = new Counter('tributary_sink_lag_seconds', 'Freshness of each sink per source: now minus the source time of the newest commit or heartbeat it applied.', 'gauge');
  readonly sinkLagBytes = new Counter('tributary_sink_lag_bytes', 'Source log bytes between the source server\'s log end and the newest position each sink applied, per source.', 'gauge');
  readonly sourceLagSeconds = new Counter('tributary_source_lag_seconds', 'Now minus the source time of the newest commit or heartbeat durable in the hub log, per source.', 'gauge');
  readonly sourceLagBytes = new Counter('tributary_source_lag_bytes', 'Source log bytes between the source server\'s log end and the newest position durable in the hub log, per source.', 'gauge');
  readonly sinkEvents = new Counter('tributary_sink_events_applied_total', 'Change events applied by each sink.');
  readonly sinkErrors = new Counter('tributary_sink_errors_total', 'Failed sink writes, by sink and error kind.');
  readonly logHead = new Counter('tributary_hub_log_head_offset', 'Newest offset in the hub log.', 'gauge');

  render(): string {
    return (
      [this.eventsIn, this.batchesIn, this.duplicates, this.rejected, this.logHead, this.sourceLagSeconds, this.sourceLagBytes, this.sinkOffset, this.sinkLagEntries, this.sinkLagSeconds, this.sinkLagBytes, this.sinkEvents, this.sinkErrors]
        .map((c) => c.render())
        .join('\n') + '\n'
    );
  }
}
