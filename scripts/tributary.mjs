#!/usr/bin/env node
// The `tributary` command: `tributary agent --config FILE`, `tributary hub --config FILE`,
// `tributary health --file FILE`, `tributary doctor --config FILE`. From a source checkout it runs the TypeScript sources
// through tsx's loader (a runtime dependency); in a container image the sources were
// compiled to JavaScript beside this file's parent directory and tsx is not installed.
import { existsSync } from 'node:fs';

const [command, ...rest] = process.argv.slice(2);
const entries = { agent: '../agent/main', hub: '../hub/main', health: '../agent/health/check', doctor: '../agent/doctor/cli' };
const entry = entries[command ?? ''];
if (entry === undefined) {
  process.stderr.write('usage: tributary <agent|hub|doctor> --config FILE | tributary health --file FILE\n');
  process.exit(2);
}
const compiled = new URL(`${entry}.js`, import.meta.url);
const source = new URL(`${entry}.ts`, import.meta.url);
let url = compiled.href;
if (!existsSync(compiled)) {
  if (!existsSync(source)) {
    // e.g. `tributary hub` in the agent's container image, which holds only the agent
    process.stderr.write(`tributary ${command} is not part of this installation\n`);
    process.exit(2);
  }
  const { register } = await import('tsx/esm/api');
  register();
  url = source.href;
}
const { main } = await import(url);
process.exit(await main(rest));
