/** Every failure the agent reports carries a kind; the kind, never the message text, decides what happens next. */
export type AgentErrorKind =
  | 'config'
  | 'protocol'
  | 'source-unavailable'
  | 'source-misconfigured'
  | 'source-permission'
  | 'spool-full'
  | 'spool-corrupt'
  | 'hub-unavailable'
  | 'hub-rejected'
  | 'internal';

export type RetryDirective = 'retry' | 'manual' | 'fatal';

export class AgentError extends Error {
  constructor(
    readonly kind: AgentErrorKind,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'AgentError';
  }
}

export function retryDirective(kind: AgentErrorKind): RetryDirective {
  switch (kind) {
    case 'source-unavailable':
    case 'hub-unavailable':
    case 'spool-full':
      return 'retry';
    case 'source-misconfigured':
    case 'source-permission':
    case 'hub-rejected':
      return 'manual';
    case 'config':
    case 'protocol':
    case 'spool-corrupt':
    case 'internal':
      return 'fatal';
  }
}
