import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CONSOLE_CSP, CONSOLE_DIR, consoleRoutes, loadConsoleFiles } from './console-routes.js';

describe('console routes', () => {
  const app = consoleRoutes();

  it('serves the page at /console and /console/ with a strict policy', async () => {
    for (const path of ['/console', '/console/']) {
      const r = await app.request(path);
      assert.equal(r.status, 200, path);
      assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8');
      assert.equal(r.headers.get('content-security-policy'), CONSOLE_CSP);
      assert.equal(r.headers.get('x-frame-options'), 'DENY');
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
      assert.match(await r.text(), /<title>Tributary console<\/title>/);
    }
    assert.doesNotMatch(CONSOLE_CSP, /unsafe-inline|unsafe-eval|\*/);
  });

  it('serves every script and stylesheet the page and its modules refer to', async () => {
    const html = readFileSync(join(CONSOLE_DIR, 'index.html'), 'utf8');
    // No inline script or style: the policy would block it.
    assert.doesNotMatch(html, /<script(?![^>]*\ssrc=)[^>]*>|<style|\sstyle=|\son[a-z]+=/i);
    const pending = [...html.matchAll(/(?:src|href)="\/console\/([^"]+)"/g)].map((m) => m[1] ?? '');
    const seen = new Set<string>();
    while (pending.length > 0) {
      const name = pending.pop() ?? '';
      if (seen.has(name)) continue;
      seen.add(name);
      const r = await app.request(`/console/${name}`);
      assert.equal(r.status, 200, name);
      const body = await r.text();
      if (name.endsWith('.js')) {
        assert.equal(r.headers.get('content-type'), 'text/javascript; charset=utf-8');
        // Data never becomes markup in the console.
        assert.doesNotMatch(body, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/, name);
        const dir = name.includes('/') ? name.slice(0, name.lastIndexOf('/') + 1) : '';
        for (const m of body.matchAll(/from '(\.{1,2}\/[^']+)'/g)) pending.push(new URL(m[1] ?? '', `http://x/${dir}`).pathname.slice(1));
      }
    }
    assert.ok(seen.has('js/main.js') && seen.has('js/views/pipelines.js') && seen.has('console.css'), [...seen].join(', '));
  });

  it('answers 404 for anything else, traversal included', async () => {
    for (const path of ['/console/nope.js', '/console/../api/app.ts', '/console/%2e%2e/api/app.ts', '/console/tsconfig.json', '/console/js/format.test.js']) {
      const r = await app.request(path);
      assert.equal(r.status, 404, path);
      // "/console/../x" (or %2e%2e) is "/x" by the time it is routed: not the console's to answer.
      if (!new URL(path, 'http://hub').pathname.startsWith('/console/')) continue;
      assert.equal(r.headers.get('content-security-policy'), CONSOLE_CSP, path);
      assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'NOT_FOUND', path);
    }
  });

  it('serves files to GET only', async () => {
    assert.equal((await app.request('/console', { method: 'HEAD' })).status, 200);
    for (const method of ['POST', 'PUT', 'DELETE']) assert.equal((await app.request('/console/js/main.js', { method })).status, 404, method);
  });

  it('refuses to start without the files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tributary-console-'));
    assert.throws(() => loadConsoleFiles(join(dir, 'missing')), /console's files are missing/);
    mkdirSync(join(dir, 'js'));
    writeFileSync(join(dir, 'js', 'a.js'), '');
    assert.throws(() => loadConsoleFiles(dir), /no index\.html/);
  });
});
