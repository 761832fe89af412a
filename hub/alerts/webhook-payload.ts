/**
 * What a webhook receives. `json`: `{ type, hub, sentAt, alert }` with the
 * whole alert. `slack`: a Slack-compatible message, `{ text, blocks }` (text
 * is the notification fallback; blocks a section and a context line), which
 * Slack incoming webhooks and look-alikes (Mattermost, Rocket.Chat) accept.
 */
import type { Transition } from './alert.js';

export interface SlackMessage {
  readonly text: string;
  readonly blocks: readonly Record<string, unknown>[];
}

const ICON = { info: ':information_source:', warning: ':warning:', critical: ':red_circle:' } as const;

export function jsonPayload(t: Transition, hubId: string, sentAt: string): Record<string, unknown> {
  return { type: t.type, hub: hubId, sentAt, alert: t.alert };
}

/** Slack mrkdwn treats &, < and > as markup. */
function escape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function slackPayload(t: Transition, hubId: string): SlackMessage {
  const a = t.alert;
  const head =
    t.type === 'alert.resolved' ? `:white_check_mark: Resolved: ${a.title}` : `${ICON[a.severity]} ${t.type === 'alert.escalated' ? 'Escalated' : a.severity.toUpperCase()}: ${a.title}`;
  const where = [`hub \`${hubId}\``, `workspace \`${a.workspace}\``];
  if (a.source !== null) where.push(`source \`${a.source}\``);
  if (a.sink !== null) where.push(`sink \`${a.sink}\``);
  if (a.table !== null) where.push(`table \`${a.table}\``);
  where.push(t.type === 'alert.resolved' && a.resolvedAt !== null ? `resolved ${a.resolvedAt}` : `opened ${a.openedAt}`);
  return {
    text: escape(`${head} — ${a.message}`),
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `*${escape(head)}*\n${escape(a.message)}` } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `${escape(where.join(' · '))} · alert \`${a.id}\`` }] },
    ],
  };
}
