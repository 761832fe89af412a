/** Structured JSON logs on stderr, one object per line, with component context. */
export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const ENVELOPE = new Set(['time', 'level', 'component', 'msg']);

export interface Logger {
  child(component: string): Logger;
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

function render(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Error) {
    const out: Record<string, unknown> = { name: v.name, message: v.message };
    const kind = (v as { kind?: unknown }).kind;
    if (kind !== undefined) out['kind'] = kind;
    if (v.cause !== undefined) out['cause'] = render(v.cause);
    return out;
  }
  return v;
}

export function createLogger(level: Level, base: Record<string, unknown> = {}, write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const min = ORDER[level];
  const emit = (lvl: Level, msg: string, fields?: Record<string, unknown>): void => {
    if (ORDER[lvl] < min) return;
    // Every line: time, level, component (the process's own lines say "main"), then context and fields.
    const rec: Record<string, unknown> = { time: new Date().toISOString(), level: lvl, component: 'main', ...base, msg };
    // A field never overwrites the envelope (a field named "level" lands as "field.level").
    if (fields) for (const [k, v] of Object.entries(fields)) rec[ENVELOPE.has(k) ? `field.${k}` : k] = render(v);
    write(JSON.stringify(rec) + '\n');
  };
  return {
    child: (component) => createLogger(level, { ...base, component }, write),
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}
