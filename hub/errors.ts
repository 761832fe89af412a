/** Every failure the hub reports carries a kind; the kind, never the message text, decides what happens next. */
export type HubErrorKind =
  | 'config'
  | 'bad-request'
  | 'unauthenticated'
  | 'forbidden'
  | 'not-found'
  | 'conflict'
  | 'sequence-gap'
  | 'sequence-conflict'
  | 'message-too-large'
  | 'malformed'
  | 'log-unavailable'
  | 'sink-unavailable'
  | 'sink-rejected'
  | 'schema'
  | 'internal';

export type RetryDirective = 'retry' | 'manual' | 'fatal';

export class HubError extends Error {
  constructor(
    readonly kind: HubErrorKind,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'HubError';
  }
}

export function retryDirective(kind: HubErrorKind): RetryDirective {
  switch (kind) {
    case 'log-unavailable':
    case 'sink-unavailable':
      return 'retry';
    case 'sink-rejected':
    case 'schema':
    case 'sequence-gap':
    case 'sequence-conflict':
    case 'bad-request':
    case 'unauthenticated':
    case 'forbidden':
    case 'not-found':
    case 'conflict':
    case 'message-too-large':
    case 'malformed':
      return 'manual';
    case 'config':
    case 'internal':
      return 'fatal';
  }
}

/** SQLSTATE classes after which a retry can succeed (connection, resources, serialization, operator). */
export function isTransientSqlState(code: string | undefined): boolean {
  if (code === undefined) return true; // no SQLSTATE: a network-level failure
  const cls = code.slice(0, 2);
  return cls === '08' || cls === '53' || cls === '57' || cls === '40' || code === '55P03' || code === '58000';
}
