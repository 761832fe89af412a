#!/usr/bin/env node
// The `tributary` command: `tributary agent --config FILE`, `tributary hub --config FILE`.
// Runs the TypeScript sources through tsx's loader (a runtime dependency).
import { register } from 'tsx/esm/api';

const [command, ...rest] = process.argv.slice(2);
const entries = { agent: '../agent/main.ts', hub: '../hub/main.ts' };
const entry = entries[command ?? ''];
if (entry === undefined) {
  process.stderr.write('usage: tributary <agent|hub> --config FILE\n');
  process.exit(2);
}
register();
const { main } = await import(new URL(entry, import.meta.url).href);
process.exit(await main(rest));
