// End to end in headless Chromium: two pages join one room through the UI served by chorusd.
// Page A's fake microphone is Opus-encoded and sent; page B decodes it (frame count, output
// energy) and shows A speaking; chat and whisper go through the UI. Screenshots go to build/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startServer, REPO, WEB_DIR } from './helpers.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = process.env.WEB_ARTIFACTS || path.join(REPO, 'build');
const WAIT = { timeout: 15000 };

let server;
let browser;
const pageErrors = [];

before(async () => {
  server = await startServer(['--web', WEB_DIR]);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
});

after(async () => {
  await browser?.close();
  if (server) assert.equal(await server.stop(), 0, `chorusd stderr:\n${server.stderr()}`);
});

async function openPage(label) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(`${label}: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') pageErrors.push(`${label} console: ${msg.text()}`);
  });
  return page;
}

async function joinThroughUi(page, room, name) {
  await page.goto(`${server.http}/?room=${room}`);
  assert.equal(await page.inputValue('#room'), room, 'room prefilled from the URL');
  await page.fill('#name', name);
  await page.click('#join-btn');
  await page.waitForSelector('#conn[data-state="open"]', WAIT);
  await page.waitForSelector('#room-view:not([hidden])', WAIT);
  return page.evaluate(() => window.chorusStats.member);
}

const stats = (page) => page.evaluate(() => JSON.parse(JSON.stringify(window.chorusStats)));

test('two browsers talk: Opus audio, speaking indicator, chat and whisper', { timeout: 90000 },
  async (t) => {
    const room = `e2e-${process.pid}`;
    const a = await openPage('A');
    const b = await openPage('B');
    const idA = await joinThroughUi(a, room, 'Alice Archer');
    const idB = await joinThroughUi(b, room, 'Bob Baker');
    assert.ok(idA > 0 && idB > 0 && idA !== idB);

    // Both member lists show both people.
    for (const p of [a, b]) {
      await p.waitForFunction(() => document.querySelectorAll('#member-list li').length === 2,
        null, WAIT);
    }
    const nameA = await b.textContent(`#member-list li[data-member="${idA}"] .name`);
    assert.match(nameA, /Alice Archer/);

    // Audio: A's fake microphone -> Opus -> server -> B's decoder and mixer.
    await a.waitForFunction(() => window.chorusStats.framesSent >= 25, null, WAIT);
    await b.waitForFunction((id) => (window.chorusStats.framesDecoded[id] || 0) >= 50, idA, WAIT);
    await b.waitForFunction(() => window.chorusStats.outputRmsMax > 0.005, null, WAIT);
    await b.waitForSelector(`#member-list li[data-member="${idA}"].speaking`, WAIT);
    const sa = await stats(a);
    const sb = await stats(b);
    assert.equal(sa.encodeErrors, 0);
    assert.equal(sb.decodeErrors, 0);
    assert.equal(sb.framesBad, 0);
    assert.ok(sb.framesReceived >= sb.framesDecoded[idA], 'decoded frames were received');
    assert.ok(sa.framesEncoded >= sa.framesSent);
    t.diagnostic(`A sent ${sa.framesSent} Opus frames (${sa.bytesSent} bytes); B received ` +
      `${sb.framesReceived}, decoded ${sb.framesDecoded[idA]}, output RMS max ` +
      `${sb.outputRmsMax.toFixed(3)}, lost ${sb.framesLost}, late ${sb.framesLate}`);

    // RTT is measured and shown.
    await a.waitForFunction(() => /\d+(\.\d)? ms/.test(document.getElementById('rtt').textContent),
      null, WAIT);
    assert.ok((await stats(a)).rtt >= 0);

    // Chat from A appears on both pages.
    await a.fill('#chat-input', 'Hello from Alice, can you hear me?');
    await a.press('#chat-input', 'Enter');
    for (const p of [a, b]) {
      await p.waitForSelector('#chat-log li.chat:has-text("Hello from Alice")', WAIT);
    }
    assert.equal(await b.getAttribute('#chat-log li.chat', 'data-from'), String(idA));

    // Whisper from B to A through the member list's Whisper button.
    await b.hover(`#member-list li[data-member="${idA}"]`);
    await b.click(`#member-list li[data-member="${idA}"] .chip.whisper`);
    assert.equal(await b.inputValue('#chat-to'), String(idA));
    await b.fill('#chat-input', 'psst, only you can read this');
    await b.click('#chat-form button[type="submit"]');
    await a.waitForSelector('#chat-log li.whisper:has-text("only you can read this")', WAIT);
    await b.waitForSelector('#chat-log li.whisper.mine:has-text("only you can read this")', WAIT);
    assert.match(await a.textContent('#chat-log li.whisper .tag'), /whispered to you/);

    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await a.screenshot({ path: path.join(ARTIFACTS, 'web-e2e-a.png') });
    await b.screenshot({ path: path.join(ARTIFACTS, 'web-e2e-b.png') });

    // A mutes: B sees the muted state and A stops sending audio.
    await a.click('#mute-btn');
    await b.waitForSelector(`#member-list li[data-member="${idA}"].muted`, WAIT);
    await a.waitForSelector('#mute-btn[aria-pressed="true"]', WAIT);
    const sent = (await stats(a)).framesSent;
    await b.waitForSelector(`#member-list li[data-member="${idA}"]:not(.speaking)`, WAIT);
    await a.waitForFunction((n) => window.chorusStats.framesEncoded > n + 25,
      (await stats(a)).framesEncoded, WAIT);
    assert.ok((await stats(a)).framesSent - sent <= 2, 'no audio sent while muted');

    // B leaves: A sees it go.
    await b.click('#leave-btn');
    await a.waitForFunction(() => document.querySelectorAll('#member-list li').length === 1,
      null, WAIT);
    await b.waitForSelector('#join-view:not([hidden])', WAIT);
    assert.deepEqual(pageErrors, []);
  });

const TYPES = { '.html': /^text\/html/, '.js': /javascript/, '.css': /^text\/css/ };

// Every file of web/ at /<file> (index.html also at /), with a MIME type a browser accepts for
// module scripts and worklets: from --web DIR and from the copy embedded in the binary.
async function checkServed(base, label) {
  for (const file of fs.readdirSync(WEB_DIR).sort()) {
    const want = fs.readFileSync(path.join(WEB_DIR, file));
    for (const p of file === 'index.html' ? ['/', '/index.html'] : [`/${file}`]) {
      const res = await fetch(base + p);
      assert.equal(res.status, 200, `${label} ${p}`);
      const type = TYPES[path.extname(file)];
      if (type) assert.match(res.headers.get('content-type') || '', type, `${label} ${p}`);
      const got = Buffer.from(await res.arrayBuffer());
      assert.ok(got.equals(want), `${label} ${p} differs from web/${file}` +
        (label === 'embedded' ? ' (is the binary older than web/? run make)' : ''));
    }
  }
}

test('the page is served at / and its files next to it, from --web and embedded', async () => {
  await checkServed(server.http, '--web');
  const embedded = await startServer();
  try {
    await checkServed(embedded.http, 'embedded');
    const res = await fetch(`${embedded.http}/no-such-file.js`);
    assert.equal(res.status, 404);
  } finally {
    assert.equal(await embedded.stop(), 0);
  }
});

function jwt(secret, claims) {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc(claims)}`;
  return `${body}.${crypto.createHmac('sha256', secret).update(body).digest('base64url')}`;
}

test('an admin token shows mute and kick; a kicked page returns to the join form',
  { timeout: 60000 }, async () => {
    const secret = 'e2e-secret';
    const auth = await startServer(['--web', WEB_DIR, '--auth-secret', secret]);
    try {
      const room = `admin-${process.pid}`;
      const exp = Math.floor(Date.now() / 1000) + 600;
      const open = async (label, claims) => {
        const page = await openPage(label);
        await page.goto(`${auth.http}/?token=${jwt(secret, { room, exp, ...claims })}`);
        assert.equal(await page.inputValue('#room'), room, 'room comes from the token');
        await page.click('#join-btn');
        await page.waitForSelector('#conn[data-state="open"]', WAIT);
        return page;
      };
      const boss = await open('boss', { sub: 'boss', name: 'The Boss', admin: true });
      const guest = await open('guest', { sub: 'guest', name: 'Guest' });
      const idGuest = await guest.evaluate(() => window.chorusStats.member);
      const row = `#member-list li[data-member="${idGuest}"]`;
      await boss.waitForSelector(row, WAIT);
      const guestKicks = await guest.locator('#member-list .chip.kick').count();
      assert.equal(guestKicks, 0, 'guests get no admin buttons');

      await boss.hover(row);
      await boss.click(`${row} .chip.admin-mute`);
      await guest.waitForSelector('#mute-btn[aria-pressed="true"]', WAIT);
      await guest.waitForSelector('#notice:has-text("An admin muted you")', WAIT);
      await boss.waitForSelector(`${row}.muted`, WAIT);

      boss.once('dialog', (d) => d.accept());
      await boss.hover(row);
      await boss.click(`${row} .chip.kick`);
      await guest.waitForSelector('#join-view:not([hidden])', WAIT);
      assert.match(await guest.textContent('#join-error'), /removed from the room/);
      await boss.waitForFunction(() => document.querySelectorAll('#member-list li').length === 1,
        null, WAIT);
      assert.deepEqual(pageErrors, []);
    } finally {
      assert.equal(await auth.stop(), 0);
    }
  });
