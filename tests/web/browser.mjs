// Headless Chromium for the page tests: one browser per test file with a fake microphone, pages
// at desktop (1280x800) or phone (390x844) size, joining through the UI, JWTs, screenshots to
// build/ (WEB_ARTIFACTS overrides) and an axe-core check. Every wait has a deadline.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, afterEach, before } from 'node:test';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import { REPO, WEB_DIR, startServer } from './helpers.mjs';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const ARTIFACTS = process.env.WEB_ARTIFACTS || path.join(REPO, 'build');
export const WAIT = { timeout: 15000 };
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

// `extraArgs`: more Chromium flags (e.g. a host mapping, a trusted test key).
export async function launch(extraArgs = []) {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      '--autoplay-policy=no-user-gesture-required',
      ...extraArgs,
    ],
  });
}

// A page in a context of its own (its own storage), or in `context` (tabs of one browser).
export async function openPage(browser, label, { viewport = DESKTOP, context = null,
  errors = [] } = {}) {
  const ctx = context || (await browser.newContext({ viewport, isMobile: viewport === PHONE,
    hasTouch: viewport === PHONE }));
  const page = await ctx.newPage();
  page.on('pageerror', (err) => errors.push(`${label}: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`${label} console: ${msg.text()}`);
  });
  page.label = label;
  if (!context) OPEN.push(ctx);
  return page;
}

const OPEN = [];
// Closes every page opened since the last call (an open page keeps decoding audio: a test
// that leaves its pages open slows every later one down).
export async function closePages() {
  const all = OPEN.splice(0);
  await Promise.all(all.map((ctx) => ctx.close().catch(() => {})));
}

export async function joinThroughUi(page, base, room, name) {
  await page.goto(`${base}/?room=${room}`);
  if (name !== undefined) await page.fill('#name', name);
  await page.click('#join-btn');
  await page.waitForSelector('#conn[data-state="open"]', WAIT);
  await page.waitForSelector('#room-view:not([hidden])', WAIT);
  return page.evaluate(() => window.chorusStats.member);
}

export const stats = (page) => page.evaluate(() => JSON.parse(JSON.stringify(window.chorusStats)));

export const row = (id) => `#member-list li[data-member="${id}"]`;

export function jwt(secret, claims) {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc(claims)}`;
  return `${body}.${crypto.createHmac('sha256', secret).update(body).digest('base64url')}`;
}

// Saves a screenshot as build/web-<name>.png (these are looked at, not compared).
export async function shot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `web-${name}.png`) });
}

const require = createRequire(import.meta.url);
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

// Runs axe-core in the page; fails on any serious or critical violation.
export async function checkAxe(page, what) {
  await page.evaluate(AXE);
  const result = await page.evaluate(() => window.axe.run(document, {
    resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const text = bad.map((v) => `${v.impact} ${v.id}: ${v.help}\n  ` +
    v.nodes.slice(0, 4).map((n) => `${n.target.join(' ')} ${n.failureSummary}`).join('\n  '));
  assert.deepEqual(text, [], `axe on ${what}`);
  return result.violations.length;
}

// The set-up of a test file that needs one server and one browser: chorusd serving web/ (with
// `args`), pages closed after each test, the server stopped at the end (exit code 0 asserted).
// The returned object's `server` and `browser` are set once the file's tests run.
export function pageSuite(args = []) {
  const suite = { server: null, browser: null, errors: [] };
  before(async () => {
    suite.server = await startServer(['--web', WEB_DIR, ...args]);
    suite.browser = await launch();
  });
  afterEach(closePages);
  after(async () => {
    await suite.browser?.close();
    if (suite.server) assert.equal(await suite.server.stop(), 0, suite.server.stderr());
  });
  return suite;
}
