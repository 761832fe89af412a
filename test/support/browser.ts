/**
 * Headless Chromium for the console's tests: Debian's `chromium` package
 * driven by playwright-core (which downloads no browser of its own). A
 * browser that cannot start fails the test with the fix, never skips it.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env['TRIBUTARY_CHROMIUM'] ?? '/usr/bin/chromium';

/** Screenshots of the console tests: git-ignored, kept after the run. */
export const CONSOLE_ARTIFACTS = resolve(import.meta.dirname, '../../.tmp/artifacts/console');

export async function launchChromium(): Promise<Browser> {
  try {
    return await chromium.launch({ executablePath: CHROMIUM, timeout: 60_000 });
  } catch (cause) {
    throw new Error(`headless Chromium did not start from ${CHROMIUM}: install Debian's package (apt-get install -y chromium; scripts/test.sh does) or set TRIBUTARY_CHROMIUM`, { cause });
  }
}

/** Problems the page reported: script errors, failed loads, Content-Security-Policy violations. */
export function pageProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // An error status an API call answers is a result the console shows, not a page problem
    // (a missing script or style would still fail the test: its view would not render).
    if (m.type() === 'error' && !/the server responded with a status of \d{3}/.test(m.text())) problems.push(`console error: ${m.text()}`);
  });
  return problems;
}

/** Saves a full-page screenshot under CONSOLE_ARTIFACTS and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(CONSOLE_ARTIFACTS, { recursive: true });
  const path = join(CONSOLE_ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
