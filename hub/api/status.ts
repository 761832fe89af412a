/** HTTP status and stable code for each HubError kind; anything unexpected is a 500 that hides its message. */
import type { HubErrorKind } from '../errors.js';

export function statusOf(kind: HubErrorKind): [400 | 401 | 403 | 404 | 409 | 413 | 500, string] {
  switch (kind) {
    case 'bad-request':
    case 'malformed':
    case 'config':
    case 'schema':
      return [400, 'BAD_REQUEST'];
    case 'unauthenticated':
      return [401, 'UNAUTHENTICATED'];
    case 'forbidden':
      return [403, 'FORBIDDEN'];
    case 'not-found':
      return [404, 'NOT_FOUND'];
    case 'conflict':
    case 'sequence-conflict':
    case 'sequence-gap':
      return [409, 'CONFLICT'];
    case 'message-too-large':
      return [413, 'TOO_LARGE'];
    default:
      return [500, 'INTERNAL'];
  }
}
