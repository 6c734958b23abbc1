// Headless Debian Chromium driven by playwright-core, and the static server the pages use.
import { join } from 'node:path';

import { chromium } from 'playwright-core';

import { serve } from '../../scripts/serve.mjs';
import { modelsDir, root } from './models.mjs';

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_FLAGS,
  });
}

/** The headers that make a page cross-origin isolated (and give it `SharedArrayBuffer`). */
export const ISOLATION_HEADERS = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
};

/**
 * Serves the built package, the test pages, the shared test code, the models and the demo;
 * `isolated`: with the cross-origin isolation headers.
 */
export function serveTestSite({ isolated = false } = {}) {
  return serve({
    '/dist/': join(root, 'dist'),
    '/pages/': join(root, 'tests', 'browser', 'pages'),
    '/support/': join(root, 'tests', 'support'),
    '/models/': modelsDir,
    '/test-models/': join(root, 'tests', 'models'),
    '/': join(root, 'www'),
  }, { headers: isolated ? ISOLATION_HEADERS : {} });
}

/** Opens a page and fails on any uncaught error or console error. */
export async function openPage(browser, url, { allowConsoleErrors = false } = {}) {
  const page = await browser.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  if (!allowConsoleErrors) {
    page.on('console', (m) => m.type() === 'error' && problems.push(`console.error: ${m.text()}`));
  }
  await page.goto(url);
  return { page, problems };
}
