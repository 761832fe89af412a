/**
 * Benchmarks measure what a user runs: the agent and hub compiled to
 * JavaScript, as in the container images (scripts/image/tsconfig.build.json),
 * not the TypeScript sources through tsx's loader, whose module compilation
 * and source maps cost the processes CPU while they are measured. This builds
 * that tree in a temp directory once per run and points the test harness's
 * `tributary` command at it (TRIBUTARY_CLI, test/support/pipeline.ts).
 * BENCH_SOURCES=1 measures the sources instead.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const ROOT = resolve(import.meta.dirname, '..');

/** Compiles the agent and hub; returns what the bench should print about the build it runs. */
export async function useCompiledBuild(): Promise<string> {
  if (process.env['BENCH_SOURCES'] === '1') return 'TypeScript sources through tsx (BENCH_SOURCES=1)';
  const dir = mkdtempSync(join(tmpdir(), 'tributary-bench-build-'));
  const out = join(dir, 'out');
  await promisify(execFile)(join(ROOT, 'node_modules/.bin/tsc'), ['-p', join(ROOT, 'scripts/image/tsconfig.build.json'), '--outDir', out]);
  const app = join(dir, 'app');
  mkdirSync(join(app, 'scripts'), { recursive: true });
  for (const part of ['agent', 'hub', 'proto']) cpSync(join(out, part), join(app, part), { recursive: true });
  // The console's browser files are served as they are, not compiled.
  cpSync(join(ROOT, 'hub/console'), join(app, 'hub/console'), { recursive: true, filter: (f) => !f.endsWith('.ts') && !f.endsWith('tsconfig.json') });
  cpSync(join(ROOT, 'scripts/tributary.mjs'), join(app, 'scripts/tributary.mjs'));
  cpSync(join(ROOT, 'package.json'), join(app, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(app, 'node_modules'));
  process.env['TRIBUTARY_CLI'] = join(app, 'scripts/tributary.mjs');
  return `compiled JavaScript (${app}), as in the images`;
}
