// The page as a new user meets it (issue 13), in headless Chromium against a real chorusd: each
// test is the regression test of one bug the issue lists (its number is in the name) or checks
// one thing people expect. Screenshots of each state go to build/web-*.png.

import { test, before, after, afterEach, describe } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { startServer, WEB_DIR } from './helpers.mjs';
import { CHROMIUM, DESKTOP, PHONE, WAIT, checkAxe, closePages, joinThroughUi, jwt, launch, openPage, row,
  shot, stats } from './browser.mjs';

const SECRET = 'page-secret';
let dev;
let auth;
let browser;
const errors = [];
let roomSeq = 0;
const freshRoom = () => `pg${process.pid}-${++roomSeq}`;
const exp = () => Math.floor(Date.now() / 1000) + 600;

before(async () => {
  dev = await startServer(['--web', WEB_DIR, '--resume-grace', '10s']);
  auth = await startServer(['--web', WEB_DIR, '--auth-secret', SECRET]);
  browser = await launch();
});

afterEach(closePages);

after(async () => {
  await browser?.close();
  for (const s of [dev, auth]) if (s) assert.equal(await s.stop(), 0, s.stderr());
});

const page = (label, opts = {}) => openPage(browser, label, { errors, ...opts });

async function tokenPage(label, room, claims, viewport = DESKTOP) {
  const p = await page(label, { viewport });
  await p.goto(`${auth.http}/?token=${jwt(SECRET, { room, exp: exp(), ...claims })}`);
  await p.click('#join-btn');
  await p.waitForSelector('#conn[data-state="open"]', WAIT);
  return p;
}

const memberCount = (p, n) => p.waitForFunction(
  (k) => document.querySelectorAll('#member-list li').length === k, n, WAIT);

async function send(p, text) {
  await p.fill('#chat-input', text);
  await p.press('#chat-input', 'Enter');
}

describe('chat and whispers', { timeout: 240000 }, () => {
  test('bug 2: a whisper whose target left is not sent to everyone; the text is kept',
    async () => {
      const room = freshRoom();
      const a = await page('A');
      const b = await page('B');
      const idA = await joinThroughUi(a, dev.http, room, 'Alice');
      await joinThroughUi(b, dev.http, room, 'Bob');
      await b.waitForSelector(row(idA), WAIT);
      await b.selectOption('#chat-to', String(idA));
      await a.click('#leave-btn');
      await memberCount(b, 1);
      await send(b, 'secret for Alice only');
      await b.waitForSelector('#notice:has-text("left")', WAIT);
      assert.equal(await b.inputValue('#chat-input'), 'secret for Alice only');
      assert.equal(await b.locator('#chat-log li.chat:has-text("secret for Alice")').count(), 0);
      await shot(b, 'whisper-target-left');
      // A whisper to someone present goes, and whisper mode ends with it.
      const c = await page('C');
      const idC = await joinThroughUi(c, dev.http, room, 'Carol');
      await b.waitForSelector(row(idC), WAIT);
      await b.selectOption('#chat-to', String(idC));
      await send(b, 'hi Carol');
      await c.waitForSelector('#chat-log li.whisper:has-text("hi Carol")', WAIT);
      assert.equal(await b.inputValue('#chat-to'), '', 'back to Everyone after a whisper');
    });

  test('bug 3: twenty chat messages keep their height on a desktop', async () => {
    const room = freshRoom();
    const a = await page('A');
    await joinThroughUi(a, dev.http, room, 'Alice');
    for (let i = 0; i < 20; i++) await send(a, `message number ${i}`);
    await a.waitForSelector('#chat-log li.chat:has-text("message number 19")', WAIT);
    const boxes = await a.$$eval('#chat-log li.chat', (els) => els.map((e) => {
      const r = e.getBoundingClientRect();
      return { top: r.top, bottom: r.bottom, height: r.height };
    }));
    assert.equal(boxes.length, 20);
    for (const [i, box] of boxes.entries()) {
      assert.ok(box.height >= 30, `row ${i} is ${box.height}px high`);
      if (i) assert.ok(box.top >= boxes[i - 1].bottom - 0.5, `row ${i} overlaps row ${i - 1}`);
    }
    await shot(a, 'chat-twenty');
  });

  test('bug 10: a message over 4096 bytes stays in the box with the reason', async () => {
    const a = await page('A');
    await joinThroughUi(a, dev.http, freshRoom(), 'Alice');
    const text = '€'.repeat(1500); // 1500 characters, 4500 bytes
    await send(a, text);
    await a.waitForSelector('#notice:has-text("too long")', WAIT);
    assert.equal(await a.inputValue('#chat-input'), text);
  });
});

describe('names', { timeout: 240000 }, () => {
  test('bug 5: a leave message names who left, whatever their script', async () => {
    const room = freshRoom();
    const a = await page('A');
    await joinThroughUi(a, dev.http, room, 'Alice');
    for (const name of ['Carol', '张伟']) {
      const c = await page(name);
      await joinThroughUi(c, dev.http, room, name);
      await memberCount(a, 2);
      await c.click('#leave-btn');
      await a.waitForSelector(`#chat-log li.system:has-text("${name} left")`, WAIT);
      await memberCount(a, 1);
    }
    assert.equal(await a.locator('#chat-log li.system:has-text("guest-")').count(), 0);
  });

  test('bug 11: an emoji at the start of a name makes a whole avatar', async () => {
    const a = await page('A');
    const id = await joinThroughUi(a, dev.http, freshRoom(), '😀 Zoe');
    const text = await a.textContent(`${row(id)} .avatar`);
    assert.ok(!/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text),
      `half a character in ${JSON.stringify(text)}`);
    assert.equal(text, '😀Z');
  });

  test('bug 6: a name over 64 bytes or an expired link is explained before joining',
    async () => {
      const a = await page('A');
      await a.goto(`${dev.http}/?room=${freshRoom()}`);
      await a.fill('#name', '中'.repeat(64)); // 64 characters, 192 bytes
      await a.click('#join-btn');
      await a.waitForSelector('#join-error:has-text("bytes")', WAIT);
      assert.doesNotMatch(await a.textContent('#join-error'), /1006|server running/);
      await shot(a, 'join-name-too-long');
      await a.goto(`${dev.http}/?room=${freshRoom()}&name=${'x'.repeat(100)}`);
      await a.click('#join-btn');
      await a.waitForSelector('#join-error:has-text("64 bytes")', WAIT);
      const old = jwt(SECRET, { sub: 'late', room: 'r', exp: Math.floor(Date.now() / 1000) - 60 });
      await a.goto(`${auth.http}/?token=${old}`);
      await a.click('#join-btn');
      await a.waitForSelector('#join-error:has-text("expired")', WAIT);
      // What only the server can tell (a signature from another secret): the refused upgrade is
      // explained by the same URL over plain HTTP, which answers the join's own refusal.
      const forged = jwt('another-secret', { sub: 'eve', room: 'r', exp: exp() });
      await a.goto(`${auth.http}/?token=${forged}`);
      await a.click('#join-btn');
      await a.waitForSelector('#join-error:has-text("signature does not match")', WAIT);
      assert.doesNotMatch(await a.textContent('#join-error'), /1006|upgrade/);
      await shot(a, 'join-refused-signature');
      // The browser logs the refused upgrade and the 401 of the check: expected here, so they
      // are taken out of the page errors that later tests assert empty.
      const expected = /Authentication failed|status of 401/;
      for (let i = errors.length - 1; i >= 0; i--) if (expected.test(errors[i])) errors.splice(i, 1);
      await a.goto(`${dev.http}/?room=bad%20room!`);
      await a.fill('#name', 'Ann');
      await a.click('#join-btn');
      await a.waitForSelector('#join-error:has-text("Room names")', WAIT);
      assert.equal(await a.isHidden('#room-view'), true);
    });
});

describe('mute', { timeout: 240000 }, () => {
  test('bug 12: muted, the status line says so', async () => {
    const a = await page('A');
    await joinThroughUi(a, dev.http, freshRoom(), 'Alice');
    await a.waitForSelector('#mic-status:has-text("Microphone on")', WAIT);
    await a.click('#mute-btn');
    await a.waitForSelector('#mute-btn[aria-pressed="true"]', WAIT);
    await a.waitForFunction(() => /muted/i.test(document.getElementById('mic-status').textContent),
      null, WAIT);
    await shot(a, 'muted');
  });

  test('bug 14: leaving muted and joining again stays muted, with no audio sent', async () => {
    const room = freshRoom();
    const a = await page('A');
    const b = await page('B');
    await joinThroughUi(a, dev.http, room, 'Alice');
    await joinThroughUi(b, dev.http, room, 'Bob');
    await a.waitForFunction(() => window.chorusStats.framesSent > 5, null, WAIT);
    await a.click('#mute-btn');
    await a.waitForSelector('#mute-btn[aria-pressed="true"]', WAIT);
    await a.click('#leave-btn');
    await a.waitForSelector('#join-view:not([hidden])', WAIT);
    const idA = await joinThroughUi(a, dev.http, room, 'Alice');
    await a.waitForSelector('#mute-btn[aria-pressed="true"]', WAIT);
    await b.waitForSelector(`${row(idA)}.muted`, WAIT);
    const sent = (await stats(a)).framesSent;
    await a.waitForFunction((n) => window.chorusStats.framesEncoded > n + 25,
      (await stats(a)).framesEncoded, WAIT);
    assert.ok((await stats(a)).framesSent - sent <= 1, 'no audio after rejoining muted');
  });

  test('push-to-talk: hold Space while muted to talk, release to mute again', async () => {
    const room = freshRoom();
    const a = await page('A');
    const b = await page('B');
    const idA = await joinThroughUi(a, dev.http, room, 'Alice');
    await joinThroughUi(b, dev.http, room, 'Bob');
    await a.click('#mute-btn');
    await b.waitForSelector(`${row(idA)}.muted`, WAIT);
    assert.notEqual(await a.evaluate(() => document.activeElement?.id), 'chat-input');
    await a.evaluate(() => document.activeElement?.blur());
    await a.keyboard.down('Space');
    await b.waitForSelector(`${row(idA)}.speaking`, WAIT);
    await a.keyboard.up('Space');
    await b.waitForSelector(`${row(idA)}.muted`, WAIT);
    await a.waitForSelector('#mute-btn[aria-pressed="true"]', WAIT);
  });
});

describe('what people expect of a member row', { timeout: 240000 }, () => {
  test('hold to talk whispers audio to one member; "Mute for me" silences one for me only',
    async () => {
      const room = freshRoom();
      const a = await page('A');
      const b = await page('B');
      const c = await page('C');
      const idA = await joinThroughUi(a, dev.http, room, 'Alice');
      const idB = await joinThroughUi(b, dev.http, room, 'Bob');
      await joinThroughUi(c, dev.http, room, 'Carol');
      await memberCount(a, 3);
      await c.click('#mute-btn'); // only A speaks from here on
      await b.waitForFunction((id) => (window.chorusStats.framesDecoded[id] || 0) > 10, idA, WAIT);
      await a.click('#mute-btn');
      await a.waitForSelector('#mute-btn[aria-pressed="true"]', WAIT);
      const heardByC = (await stats(c)).whisperFramesReceived;
      const talk = a.locator(`${row(idB)} .chip.talk`);
      await a.hover(row(idB));
      const box = await talk.boundingBox();
      await a.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await a.mouse.down();
      await b.waitForFunction(() => window.chorusStats.whisperFramesReceived > 10, null, WAIT);
      await a.mouse.up();
      await a.waitForSelector('#mute-btn[aria-pressed="true"]', WAIT);
      assert.equal((await stats(c)).whisperFramesReceived, heardByC, 'C heard the whisper');

      await a.click('#mute-btn'); // unmuted: B hears A, then turns A off for B only
      await b.waitForFunction(() => window.chorusStats.outputRms > 0.003, null, WAIT);
      await b.hover(row(idA));
      await b.click(`${row(idA)} .chip.local-mute`);
      await b.waitForSelector(`${row(idA)}.muted-for-me`, WAIT);
      await b.waitForFunction((id) => window.chorusStats.outputRms < 0.0005 &&
        (window.chorusStats.voices[id]?.played || 0) > 0, idA, WAIT);
      await c.waitForFunction(() => window.chorusStats.outputRms > 0.003, null, WAIT);
      await shot(b, 'muted-for-me');
    });
});

describe('microphone denied', { timeout: 240000 }, () => {
  test('after a denied microphone, "Try the microphone again" works without a reload',
    async () => {
      const strict = await chromium.launch({ executablePath: CHROMIUM, args: [
        '--use-fake-device-for-media-stream', '--autoplay-policy=no-user-gesture-required'] });
      try {
        const context = await strict.newContext({ viewport: DESKTOP });
        const a = await openPage(strict, 'denied', { context, errors });
        await joinThroughUi(a, dev.http, freshRoom(), 'No Mic');
        await a.waitForSelector('#mic-status:has-text("Microphone blocked")', WAIT);
        await a.waitForSelector('#mic-retry:not([hidden])', WAIT);
        await shot(a, 'mic-denied');
        await context.grantPermissions(['microphone']);
        await a.click('#mic-retry');
        await a.waitForSelector('#mic-status:has-text("Microphone on")', WAIT);
        await a.waitForFunction(() => window.chorusStats.framesCaptured > 10, null, WAIT);
        assert.equal(await a.isHidden('#mic-retry'), true);
      } finally {
        await strict.close();
      }
    });
});

describe('tokens: admins and listeners', { timeout: 240000 }, () => {
  test('bug 4: admins read whole names, on a desktop and on a phone', async () => {
    const room = freshRoom();
    const boss = await tokenPage('boss', room, { sub: 'boss', name: 'The Boss', admin: true });
    await tokenPage('guest', room, { sub: 'guest', name: 'Guest Gunnarsson' });
    await tokenPage('lisa', room, { sub: 'lisa', name: 'Lisa Lindqvist' });
    await memberCount(boss, 3);
    const cut = (p) => p.$$eval('#member-list .name', (els) =>
      els.filter((e) => e.scrollWidth > e.clientWidth + 1).map((e) => e.textContent));
    assert.deepEqual(await cut(boss), [], 'names cut on a desktop');
    await shot(boss, 'admin-desktop');
    const phone = await tokenPage('boss-phone', room, { sub: 'boss2', name: 'Boss Two',
      admin: true }, PHONE);
    await memberCount(phone, 4);
    assert.deepEqual(await cut(phone), [], 'names cut on a phone');
    await shot(phone, 'admin-phone');
    const lisa = boss.locator('#member-list li', { hasText: 'Lisa Lindqvist' });
    await lisa.hover();
    await lisa.locator('.chip.kick').waitFor(WAIT);
    await shot(boss, 'admin-desktop-hover');
  });

  test('bug 9: an admin-muted user who clicks Unmute is told why', async () => {
    const room = freshRoom();
    const boss = await tokenPage('boss', room, { sub: 'boss', name: 'The Boss', admin: true });
    const guest = await tokenPage('guest', room, { sub: 'guest', name: 'Guest Gunnarsson' });
    const idGuest = await guest.evaluate(() => window.chorusStats.member);
    await boss.hover(row(idGuest));
    await boss.click(`${row(idGuest)} .chip.admin-mute`);
    await guest.waitForSelector('#mute-btn[aria-pressed="true"]', WAIT);
    await guest.click('#mute-btn');
    await guest.waitForSelector('#notice:has-text("only an admin")', WAIT);
    assert.equal(await guest.getAttribute('#mute-btn', 'aria-pressed'), 'true');
    await shot(guest, 'admin-muted');
  });

  test('the token leaves the address bar once joined; a reload still has it', async () => {
    const room = freshRoom();
    const p = await tokenPage('guest', room, { sub: 'guest', name: 'Guest' });
    assert.doesNotMatch(p.url(), /token=/);
    assert.match(p.url(), new RegExp(`room=${room}`));
    await p.reload();
    await p.waitForSelector('#conn[data-state="open"], #conn[data-state="resumed"]', WAIT);
  });

  test('bug 7: a speak:false listener is shown as a listener, with no mic and no errors',
    async () => {
      const room = freshRoom();
      const other = await tokenPage('other', room, { sub: 'other', name: 'Other' });
      const l = await tokenPage('listener', room, { sub: 'quiet', name: 'Quiet', speak: false });
      const id = await l.evaluate(() => window.chorusStats.member);
      await l.waitForSelector('#mic-status:has-text("Listener")', WAIT);
      assert.equal(await l.isVisible('#mute-btn'), false);
      await l.waitForFunction(() => window.chorusStats.framesCaptured === 0, null, WAIT);
      await other.waitForSelector(row(id), WAIT);
      // Give a would-be microphone time to send (and be refused) before looking.
      await other.evaluate(() => new Promise((r) => setTimeout(r, 1500)));
      assert.equal(await l.locator(`${row(id)}.speaking`).count(), 0);
      assert.match(await l.textContent(`${row(id)} .sub`), /Listener/);
      assert.doesNotMatch(await l.textContent('#notice'), /Not allowed/);
      await shot(l, 'listener');
    });
});

describe('tabs and reloads', { timeout: 240000 }, () => {
  test('bug 15: a reload mid-call comes back to the room; a second tab replaces the first',
    async () => {
      const room = freshRoom();
      const a = await page('A');
      const b = await page('B');
      const idA = await joinThroughUi(a, dev.http, room, 'Alice');
      await joinThroughUi(b, dev.http, room, 'Bob');
      await b.waitForSelector(row(idA), WAIT);
      await a.reload();
      await a.waitForSelector('#room-view:not([hidden])', WAIT);
      await a.waitForSelector('#conn[data-state="open"], #conn[data-state="resumed"]', WAIT);
      await memberCount(a, 2);
      await memberCount(b, 2);
      await b.waitForSelector('#chat-log li.system:has-text("Alice is back")', WAIT);
      await b.evaluate(() => new Promise((r) => setTimeout(r, 3500))); // past the left's wait
      assert.equal(await b.locator('#chat-log li.system:has-text("Alice left")').count(), 0);
      await shot(a, 'after-reload');
      await shot(b, 'after-reload-other');

      const tab2 = await page('A tab 2', { context: a.context() });
      await joinThroughUi(tab2, dev.http, room, 'Alice');
      await a.waitForSelector('#join-error:has-text("another tab")', WAIT);
      await memberCount(b, 2);
      const names = await b.$$eval('#member-list .name', (els) => els.map((e) => e.textContent));
      assert.deepEqual(names.filter((n) => n === 'Alice'), ['Alice']);
    });
});

describe('phone layout and accessibility', { timeout: 240000 }, () => {
  test('a phone shows the room name, scrolls the people list and keeps the input visible',
    async () => {
      const room = freshRoom();
      const p = await page('phone', { viewport: PHONE });
      await p.goto(`${dev.http}/?room=${room}`);
      await shot(p, 'phone-join');
      assert.equal(await checkAxe(p, 'the join form on a phone') >= 0, true);
      await joinThroughUi(p, dev.http, room, 'Phone Person');
      for (const name of ['Second Person', 'Third Person', 'Fourth Person']) {
        await joinThroughUi(await page(name), dev.http, room, name);
      }
      await memberCount(p, 4);
      for (let i = 0; i < 25; i++) await send(p, `line ${i}`);
      await p.waitForSelector('#chat-log li.chat:has-text("line 24")', WAIT);
      assert.equal(await p.isVisible('#room-title'), true, 'the room name is visible');
      const geo = await p.evaluate(() => {
        const r = (id) => document.getElementById(id).getBoundingClientRect();
        const list = document.getElementById('member-list');
        return { input: r('chat-input'), controls: r('controls'), vh: innerHeight,
          listScrolls: list.scrollHeight > list.clientHeight &&
            getComputedStyle(list).overflowY === 'auto' };
      });
      assert.ok(geo.input.bottom <= geo.controls.top, `input ${JSON.stringify(geo)}`);
      assert.ok(geo.controls.bottom <= geo.vh);
      const last = await p.$eval('#member-list li:last-child', (e) => e.getBoundingClientRect());
      assert.ok(geo.listScrolls || last.bottom <= geo.controls.top, 'people list cut off');
      await shot(p, 'phone-room');
      await checkAxe(p, 'the room on a phone');
    });

  test('axe-core: the join form and the room on a desktop have no serious violation',
    async () => {
      const a = await page('A');
      await a.goto(`${dev.http}/?room=${freshRoom()}`);
      await checkAxe(a, 'the join form');
      await shot(a, 'desktop-join');
      const room = freshRoom();
      await joinThroughUi(a, dev.http, room, 'Alice');
      await joinThroughUi(await page('B'), dev.http, room, 'Bob');
      await memberCount(a, 2);
      // Screen readers: the state pill is a status; who speaks is announced.
      assert.equal(await a.getAttribute('#conn', 'role'), 'status');
      await a.waitForSelector('#announce:has-text("Bob is speaking")', WAIT);
      await send(a, 'hello');
      await a.waitForSelector('#chat-log li.chat', WAIT);
      await a.waitForSelector('#quality:not([hidden])', WAIT);
      assert.match(await a.getAttribute('#quality', 'title'), /loss .*jitter/);
      await checkAxe(a, 'the room');
      await a.click('#settings-btn');
      await a.waitForSelector('#settings:not([hidden])', WAIT);
      assert.ok(await a.locator('#mic-select option').count() >= 1);
      await checkAxe(a, 'the audio settings');
      await shot(a, 'desktop-settings');
      assert.deepEqual(errors, []);
    });
});
