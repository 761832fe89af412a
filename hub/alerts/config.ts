/**
 * The hub configuration's `alerts` section: rule thresholds (every rule has a
 * default and can be switched off) and the webhooks alerts are sent to.
 *
 *   "alerts": {
 *     "evaluateSeconds": 10,
 *     "rules": {
 *       "lag":               { "seconds": 300, "minutes": 5 },
 *       "agentDisconnected": { "seconds": 120 },
 *       "sinkFailing":       { "seconds": 60 },
 *       "spoolFilling":      { "ratio": 0.8 },
 *       "slotAtRisk": {}, "sourceCheck": {}, "schemaChanged": {}, "snapshot": {}
 *     },
 *     "webhooks": [ { "name": "ops", "kind": "slack", "url": { "env": "SLACK_WEBHOOK_URL" } } ]
 *   }
 */
import type { Reader, Secret } from '../config.js';
import { WORKSPACE } from '../auth/config.js';
import type { Severity } from './alert.js';

export interface RuleSwitch {
  readonly enabled: boolean;
}

export interface AlertRulesConfig {
  /** Sink lag above `seconds` for `minutes`. */
  readonly lag: RuleSwitch & { readonly seconds: number; readonly minutes: number };
  /** An agent's stream gone for longer than `seconds`. */
  readonly agentDisconnected: RuleSwitch & { readonly seconds: number };
  /** A sink whose writes keep failing for `seconds`. */
  readonly sinkFailing: RuleSwitch & { readonly seconds: number };
  /** Spool bytes / limit at or above `ratio`, or back-pressure. */
  readonly spoolFilling: RuleSwitch & { readonly ratio: number };
  /** Doctor findings on the replication slot. */
  readonly slotAtRisk: RuleSwitch;
  /** Other doctor findings (settings, privileges, replica identity). */
  readonly sourceCheck: RuleSwitch;
  readonly schemaChanged: RuleSwitch;
  readonly snapshot: RuleSwitch;
}

export interface WebhookConfig {
  readonly name: string;
  /** `json`: the alert as JSON; `slack`: a Slack-compatible `{ text, blocks }` message. */
  readonly kind: 'json' | 'slack';
  /** Often carries a token (Slack's URLs do): a Secret, never logged. */
  readonly url: Secret;
  readonly minSeverity: Severity;
  /** Only alerts of this workspace; null = every workspace. */
  readonly workspace: string | null;
  readonly timeoutMs: number;
  readonly maxAttempts: number;
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
}

export interface AlertsConfig {
  readonly evaluateSeconds: number;
  /** Resolved alerts kept in the feed (the oldest are dropped). */
  readonly keepResolved: number;
  readonly rules: AlertRulesConfig;
  readonly webhooks: readonly WebhookConfig[];
}

type Obj = Record<string, unknown>;

function num(r: Reader, o: Obj, key: string, path: string, min: number, max: number, def: number): number {
  const v = o[key] ?? def;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    r.errors.push(`${path}.${key}: expected a number from ${min} to ${max}, got ${JSON.stringify(v)}`);
    return def;
  }
  return v;
}

function enabled(r: Reader, o: Obj, path: string): boolean {
  const v = o['enabled'] ?? true;
  if (typeof v !== 'boolean') r.errors.push(`${path}.enabled: expected true or false`);
  return v === true;
}

function rules(r: Reader, v: unknown): AlertRulesConfig {
  const names = ['lag', 'agentDisconnected', 'sinkFailing', 'spoolFilling', 'slotAtRisk', 'sourceCheck', 'schemaChanged', 'snapshot'];
  const o = r.obj(v ?? {}, 'alerts.rules', names);
  const rule = (name: string, fields: readonly string[]): [Obj, string] => {
    const path = `alerts.rules.${name}`;
    return [r.obj(o[name] ?? {}, path, ['enabled', ...fields]), path];
  };
  const [lag, lp] = rule('lag', ['seconds', 'minutes']);
  const [dis, dp] = rule('agentDisconnected', ['seconds']);
  const [sf, sp] = rule('sinkFailing', ['seconds']);
  const [spool, pp] = rule('spoolFilling', ['ratio']);
  const simple = (name: string): RuleSwitch => {
    const [s, path] = rule(name, []);
    return { enabled: enabled(r, s, path) };
  };
  return {
    lag: { enabled: enabled(r, lag, lp), seconds: num(r, lag, 'seconds', lp, 0, 86_400 * 7, 300), minutes: num(r, lag, 'minutes', lp, 0, 1440, 5) },
    agentDisconnected: { enabled: enabled(r, dis, dp), seconds: num(r, dis, 'seconds', dp, 0, 86_400, 120) },
    sinkFailing: { enabled: enabled(r, sf, sp), seconds: num(r, sf, 'seconds', sp, 0, 86_400, 60) },
    spoolFilling: { enabled: enabled(r, spool, pp), ratio: num(r, spool, 'ratio', pp, 0.01, 1, 0.8) },
    slotAtRisk: simple('slotAtRisk'),
    sourceCheck: simple('sourceCheck'),
    schemaChanged: simple('schemaChanged'),
    snapshot: simple('snapshot'),
  };
}

const WEBHOOK_FIELDS = ['name', 'kind', 'url', 'minSeverity', 'workspace', 'timeoutMs', 'maxAttempts', 'backoffMs', 'maxBackoffMs'];

function webhook(r: Reader, v: unknown, path: string): WebhookConfig | null {
  const o = r.obj(v, path, WEBHOOK_FIELDS);
  const url = r.secret(o, 'url', path);
  if (url === null) r.errors.push(`${path}.url: expected the webhook URL (a string or { "env": "NAME" }) (missing)`);
  else {
    let ok = false;
    try {
      const u = new URL(url.reveal());
      ok = u.protocol === 'https:' || u.protocol === 'http:';
    } catch {
      ok = false;
    }
    // The URL itself may hold a token: the error never repeats it.
    if (!ok && url.reveal() !== '') r.errors.push(`${path}.url: expected an http:// or https:// URL`);
  }
  const kind = r.str(o, 'kind', path, /^(json|slack)$/, '"json" or "slack"', 'json') as WebhookConfig['kind'];
  const minSeverity = r.str(o, 'minSeverity', path, /^(info|warning|critical)$/, '"info", "warning" or "critical"', 'info') as Severity;
  const workspace = o['workspace'] === undefined ? null : r.str(o, 'workspace', path, WORKSPACE, 'a workspace name (a-z, 0-9, "_", "-")');
  const backoffMs = r.int(o, 'backoffMs', path, 1, 600_000, 1000);
  const out = {
    name: r.str(o, 'name', path, /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'a name of letters, digits, "_", "-", "."'),
    kind,
    minSeverity,
    workspace,
    timeoutMs: r.int(o, 'timeoutMs', path, 100, 120_000, 10_000),
    maxAttempts: r.int(o, 'maxAttempts', path, 1, 100, 8),
    backoffMs,
    maxBackoffMs: r.int(o, 'maxBackoffMs', path, 1, 3_600_000, Math.max(backoffMs, 60_000)),
  };
  return url === null ? null : { ...out, url };
}

export function parseAlertsConfig(r: Reader, v: unknown): AlertsConfig {
  const o = r.obj(v ?? {}, 'alerts', ['evaluateSeconds', 'keepResolved', 'rules', 'webhooks']);
  const webhooks = r
    .list(o['webhooks'], 'alerts.webhooks')
    .map((w, i) => webhook(r, w, `alerts.webhooks[${i}]`))
    .filter((w): w is WebhookConfig => w !== null);
  const seen = new Set<string>();
  webhooks.forEach((w, i) => {
    if (seen.has(w.name)) r.errors.push(`alerts.webhooks[${i}].name: "${w.name}" is used twice`);
    seen.add(w.name);
  });
  return {
    evaluateSeconds: r.int(o, 'evaluateSeconds', 'alerts', 1, 3600, 10),
    keepResolved: r.int(o, 'keepResolved', 'alerts', 10, 1_000_000, 1000),
    rules: rules(r, o['rules']),
    webhooks,
  };
}
