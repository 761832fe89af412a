#!/usr/bin/env node
// Prints the package.json of one image's runtime: the packages that the
// compiled JavaScript under the given directories imports, at the versions the
// repository's package.json pins, and nothing else (no dev dependencies, no
// packages only the other image needs). `npm install --omit=dev` with the
// repository's package-lock.json then installs exactly those, locked.
// Usage: runtime-package.mjs PACKAGE_JSON DIR...
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';

const [pkgFile, ...dirs] = process.argv.slice(2);
if (pkgFile === undefined || dirs.length === 0) {
  process.stderr.write('usage: runtime-package.mjs PACKAGE_JSON DIR...\n');
  process.exit(2);
}
const root = JSON.parse(readFileSync(pkgFile, 'utf8'));

function* jsFiles(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* jsFiles(path);
    else if (/\.(m?js)$/.test(name)) yield path;
  }
}

// Specifiers of import/export statements (`import ... from '...'`, `export ... from '...'`,
// side-effect `import '...'`; tsc puts each statement at the start of a line) and of dynamic
// `import('...')`. Anchored at statement starts so that a string such as "... DELETE from'" is no import.
const SPECIFIER = /(?:^[ \t]*(?:import|export)\b[^;'"]*?\bfrom\s*|^[ \t]*import\s*|\bimport\(\s*)['"]([^'"]+)['"]/gm;
const builtins = new Set(builtinModules);
const needed = new Set();
for (const dir of dirs) {
  for (const file of jsFiles(dir)) {
    for (const [, spec] of readFileSync(file, 'utf8').matchAll(SPECIFIER)) {
      if (spec.startsWith('.') || spec.startsWith('node:') || builtins.has(spec)) continue;
      const parts = spec.split('/');
      needed.add(spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]);
    }
  }
}
const dependencies = {};
for (const name of [...needed].sort()) {
  const version = root.dependencies?.[name];
  if (version === undefined) {
    process.stderr.write(`${name} is imported by the runtime code but is not in package.json "dependencies"\n`);
    process.exit(1);
  }
  dependencies[name] = version;
}
const out = { name: `${root.name}-runtime`, version: root.version, private: true, type: root.type, license: root.license, dependencies };
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
