/**
 * The web console: static files under hub/console/ served at /console. The
 * files hold no data and need no token; the page signs in with an API token
 * and calls /v1 like any client, so the console can show nothing the token
 * could not read itself.
 *
 * Files are read once when the routes are built (a handful of small files):
 * a request can only name one of them, so no path from a URL ever reaches
 * the file system. Every answer carries a strict Content-Security-Policy
 * (scripts, styles and API calls from this origin only, no inline code, no
 * framing), which keeps a string from the API that slipped into markup inert.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { Hono, type MiddlewareHandler } from 'hono';
import { HubError } from '../errors.js';
import type { ApiEnv } from './auth-middleware.js';

/** Where the console's files sit beside this module, in a checkout and in the image. */
export const CONSOLE_DIR = join(import.meta.dirname, '..', 'console');

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

interface ConsoleFile {
  readonly body: Uint8Array;
  readonly type: string;
}

/** Every servable file under `dir`, keyed by its URL path below /console/ ("js/main.js"). */
export function loadConsoleFiles(dir: string): ReadonlyMap<string, ConsoleFile> {
  let names: string[];
  try {
    names = readdirSync(dir, { recursive: true, encoding: 'utf8' });
  } catch (cause) {
    throw new HubError('config', `the console's files are missing (${dir})`, { cause });
  }
  const files = new Map<string, ConsoleFile>();
  for (const name of names) {
    const type = TYPES[extname(name)];
    // Only the browser's file types: tsconfig.json and tests beside the sources stay private.
    if (type === undefined || name.endsWith('.test.js')) continue;
    const path = join(dir, name);
    files.set(relative(dir, path).split(sep).join('/'), { body: readFileSync(path), type });
  }
  if (!files.has('index.html')) throw new HubError('config', `the console has no index.html in ${dir}`);
  return files;
}

function securityHeaders(type: string): Record<string, string> {
  return {
    'content-type': type,
    'content-security-policy': CONSOLE_CSP,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
    // A new hub version ships new files: revalidate every time (they are tiny).
    'cache-control': 'no-cache',
  };
}

export function consoleRoutes(dir = CONSOLE_DIR): Hono<ApiEnv> {
  const files = loadConsoleFiles(dir);
  const app = new Hono<ApiEnv>();
  const serve = (name: string): Response => {
    const file = files.get(name);
    if (file === undefined) {
      return new Response(JSON.stringify({ error: { code: 'NOT_FOUND', message: `no console file ${name.slice(0, 100)}` } }), {
        status: 404,
        headers: { ...securityHeaders('application/json') },
      });
    }
    return new Response(file.body, { status: 200, headers: securityHeaders(file.type) });
  };
  // Static files, mounted as middleware the way hono's serveStatic is: they are pages,
  // not API operations, so the OpenAPI document (which lists the routes) leaves them out.
  const serveFiles: MiddlewareHandler<ApiEnv> = async (c, next) => {
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') return next();
    const name = c.req.path === '/console' || c.req.path === '/console/' ? 'index.html' : c.req.path.slice('/console/'.length);
    return serve(name);
  };
  app.use('/console', serveFiles);
  app.use('/console/*', serveFiles);
  return app;
}
