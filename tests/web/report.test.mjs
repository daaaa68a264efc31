// chorus-bench's HTML reports in headless Chromium: a short rooms run against a real chorusd and
// a two-step ladder are rendered at desktop and phone size; the page must fetch nothing, log no
// error, draw every chart with labelled axes, keep each chart's text inside it and apart (no
// tick, legend or marker label on top of another) and pass axe. Screenshots go to
// build/report-*.png for people to look at.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO, startServer } from './helpers.mjs';
import { ARTIFACTS, DESKTOP, PHONE, checkAxe, launch } from './browser.mjs';

const BENCH = process.env.CHORUS_BENCH || path.join(REPO, 'build', 'chorus-bench');
const run = promisify(execFile);
let server;
let browser;
let dir;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chorus-report-'));
  server = await startServer();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  if (server) assert.equal(await server.stop(), 0, server.stderr());
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

// One chorus-bench rooms run with --json and --report; returns the paths.
async function bench(name, rooms, duration) {
  const json = path.join(dir, `${name}.json`);
  const html = path.join(dir, `${name}.html`);
  await run(BENCH, ['rooms', '--url', server.url, '--rooms', String(rooms), '--members', '10',
    '--speakers', '2', '--rate', '50', '--payload', '120', '--duration', duration,
    '--ramp', '300ms', '--drain', '5s', '--server-pid', String(server.proc.pid),
    '--server-metrics', `${server.http}/metrics`, '--json', json, '--report', html,
    '--quiet', 'yes'], { timeout: 60000 });
  return { json, html };
}

// Opens `file`, failing on any request other than the file itself and on any page error.
async function open(file, viewport) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const problems = [];
  page.on('request', (request) => {
    if (request.url() !== `file://${file}`) problems.push(`fetched ${request.url()}`);
  });
  page.on('pageerror', (err) => problems.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
  });
  await page.goto(`file://${file}`);
  return { page, problems, close: () => context.close() };
}

// For every chart: its size, its axis titles, and text that leaves it or overlaps other text.
async function inspectCharts(page) {
  return page.evaluate(() => {
    const charts = [];
    for (const svg of document.querySelectorAll('svg.chart')) {
      const box = svg.getBoundingClientRect();
      const title = svg.querySelector('title')?.textContent;
      const texts = [...svg.querySelectorAll('text')].map((t) => ({
        text: t.textContent, r: t.getBoundingClientRect() }));
      const issues = [];
      for (const t of texts) {
        if (t.r.left < box.left - 1 || t.r.right > box.right + 1 || t.r.top < box.top - 1 ||
            t.r.bottom > box.bottom + 1) issues.push(`"${t.text}" leaves the chart`);
      }
      for (let i = 0; i < texts.length; i++) {
        for (let j = i + 1; j < texts.length; j++) {
          const a = texts[i].r;
          const b = texts[j].r;
          const overlap = Math.min(a.right, b.right) - Math.max(a.left, b.left) > 1 &&
            Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 1;
          if (overlap) issues.push(`"${texts[i].text}" overlaps "${texts[j].text}"`);
        }
      }
      charts.push({ title, width: box.width, labels: svg.querySelectorAll('text.label').length,
        drawn: svg.querySelectorAll('path, rect').length, issues });
    }
    return charts;
  });
}

async function checkPage(file, name, expectedCharts) {
  for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    const { page, problems, close } = await open(file, viewport);
    const charts = await inspectCharts(page);
    assert.equal(charts.length, expectedCharts, JSON.stringify(charts.map((c) => c.title)));
    for (const chart of charts) {
      assert.deepEqual(chart.issues, [], chart.title);
      assert.equal(chart.labels, 2, `${chart.title}: both axes titled`);
      assert.ok(chart.drawn > 0, `${chart.title}: draws something`);
      // Phones scroll a chart sideways rather than shrink its text out of reach.
      assert.ok(chart.width >= 600, `${chart.title} is ${chart.width}px wide at ${size}`);
    }
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, `report-${name}-${size}.png`),
      fullPage: true });
    if (size === 'desktop') await checkAxe(page, `${name} report`);
    assert.deepEqual(problems, []);
    await close();
  }
}

test('a rooms run report renders every chart cleanly', { timeout: 120000 }, async () => {
  const { html } = await bench('rooms', 4, '3s');
  // Latency over time, distribution, deliveries per second, CPU, server stages.
  await checkPage(html, 'rooms', 5);
});

test('a ladder report renders every chart cleanly', { timeout: 120000 }, async () => {
  const steps = [await bench('step2', 2, '1s'), await bench('step5', 5, '1s')];
  const html = path.join(dir, 'ladder.html');
  await run(BENCH, ['ladder-report', ...steps.map((s) => s.json), '--report', html,
    '--title', 'chorusd --threads 2 (web test)'], { timeout: 30000 });
  // Latency, server cost, loss, CPU against load.
  await checkPage(html, 'ladder', 4);
});
