// A seated room run from the page in headless Chromium (issue 14): a host opens 4 seats and sits,
// a listener (phone-sized) raises a hand, the host invites it from the queue of hands, its fake
// microphone is heard by a third page, which shows it speaking (from the server's `speaking`
// events); then the host locks its seat, which stands it up, and its audio stops reaching the
// others while the host's goes on. Screenshots at desktop and phone size; axe-core on both.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PHONE, WAIT, checkAxe, openPage, pageSuite, row, shot, stats } from './browser.mjs';

const suite = pageSuite();
const { errors } = suite;

async function join(label, room, name, { host = false, viewport } = {}) {
  const p = await openPage(suite.browser, label, { errors, viewport });
  await p.goto(`${suite.server.http}/?room=${room}${host ? '&admin=1' : ''}`);
  await p.fill('#name', name);
  await p.click('#join-btn');
  await p.waitForSelector('#conn[data-state="open"]', WAIT);
  await p.waitForSelector('#room-view:not([hidden])', WAIT);
  return [p, await p.evaluate(() => window.chorusStats.member)];
}

const seatOf = (id) => `#seat-row li.seat[data-member="${id}"]`;
const decoded = async (p, id) => (await stats(p)).framesDecoded[id] || 0;

test('a host runs a seated room: hands, invite, speaking, lock stands the sitter up',
  { timeout: 180000 }, async () => {
    const room = `seats${process.pid}`;
    const [h, idH] = await join('Host', room, 'Hana', { host: true });
    await h.waitForSelector('#stage:not([hidden])', WAIT);
    await h.waitForSelector(`${row(idH)} .host-badge`, WAIT);
    await h.selectOption('#seat-count', '4');
    await h.waitForFunction(() => document.querySelectorAll('#seat-row li.seat').length === 4,
      null, WAIT);
    // The host sits on seat 1 through its seat menu.
    await h.click('#seat-row li.seat[data-seat="0"] .seat-btn');
    await h.click('#seat-row li.seat[data-seat="0"] .seat-menu .chip.take');
    await h.waitForSelector(seatOf(idH), WAIT);

    const [l, idL] = await join('Listener', room, 'Leo', { viewport: PHONE });
    const [t, idT] = await join('Third', room, 'Tara');
    for (const p of [l, t]) {
      await p.waitForSelector(seatOf(idH), WAIT);
      await p.waitForSelector(`${row(idH)} .host-badge`, WAIT);
      await p.waitForSelector(`${row(p === l ? idL : idT)}.listener`, WAIT);
    }
    // A listener is shown as one: no "Microphone on", never speaking.
    await l.waitForSelector('#mic-status:has-text("take a seat")', WAIT);
    await t.waitForFunction((id) => (window.chorusStats.framesDecoded[id] || 0) > 10, idH, WAIT);
    assert.equal(await decoded(t, idL), 0, 'a standing listener is not heard');

    await l.click('#hand-btn');
    await l.waitForSelector('#hand-btn[aria-pressed="true"]', WAIT);
    await h.waitForSelector(`#hand-list li[data-member="${idL}"]`, WAIT);
    await shot(h, 'seats-host-hand-desktop');
    await shot(l, 'seats-hand-raised-phone');
    await h.click(`#hand-list li[data-member="${idL}"] .chip.invite-seat`);
    for (const p of [h, l, t]) await p.waitForSelector(seatOf(idL), WAIT);
    await h.waitForSelector('#hands[hidden]', { ...WAIT, state: 'attached' });
    await l.waitForSelector('#hand-btn[hidden]', { ...WAIT, state: 'attached' });
    await l.waitForSelector('#mic-status:has-text("Microphone on")', WAIT);

    // Its fake microphone reaches the third page, which shows it speaking on its seat.
    await t.waitForFunction((id) => (window.chorusStats.framesDecoded[id] || 0) > 10, idL, WAIT);
    await t.waitForSelector(`${seatOf(idL)}.speaking`, WAIT);
    await t.waitForSelector(`${row(idL)}.speaking`, WAIT);
    await shot(t, 'seats-speaking-desktop');
    await shot(l, 'seats-seated-phone');
    assert.equal(await checkAxe(h, 'the host page with seats and hands') >= 0, true);
    assert.equal(await checkAxe(l, 'a seated phone page') >= 0, true);

    // The host locks Leo's seat: that stands Leo up.
    const seat = await h.getAttribute(seatOf(idL), 'data-seat');
    await h.click(`${seatOf(idL)} .seat-btn`);
    await h.waitForSelector(`#seat-row li.seat[data-seat="${seat}"] .seat-menu`, WAIT);
    await shot(h, 'seats-host-menu-desktop');
    await h.click(`#seat-row li.seat[data-seat="${seat}"] .seat-menu .chip.lock`);
    for (const p of [h, l, t]) {
      await p.waitForSelector(`#seat-row li.seat.locked[data-seat="${seat}"]`, WAIT);
      await p.waitForSelector(seatOf(idL), { ...WAIT, state: 'detached' });
    }
    await l.waitForSelector('#mic-status:has-text("take a seat")', WAIT);
    await t.waitForSelector(`${row(idL)}.listener`, WAIT);
    // From now on nothing of Leo's reaches Tara while the host's audio goes on: a second of
    // the host's frames after the stand-up was seen, Leo's count has not moved beyond what was
    // already on its way.
    const leo = await decoded(t, idL);
    const hana = await decoded(t, idH);
    await t.waitForFunction(([id, n]) => (window.chorusStats.framesDecoded[id] || 0) > n + 50,
      [idH, hana], WAIT);
    const leoAfter = await decoded(t, idL);
    assert.ok(leoAfter <= leo + 10, `Leo still heard after standing up: ${leo} -> ${leoAfter}`);
    assert.equal(await t.locator(`${row(idL)}.speaking`).count(), 0);
    await shot(t, 'seats-locked-desktop');
    await shot(l, 'seats-stood-up-phone');
    assert.deepEqual(errors, []);
  });

test('a reload keeps a dev-mode host a host and sits a seated member down again',
  { timeout: 120000 }, async () => {
    const room = `seatsreload${process.pid}`;
    const [h] = await join('Host', room, 'Hana', { host: true });
    await h.selectOption('#seat-count', '2');
    await h.waitForFunction(() => document.querySelectorAll('#seat-row li.seat').length === 2,
      null, WAIT);
    const [m, idM] = await join('Member', room, 'Max');
    await m.click('#seat-row li.seat[data-seat="1"] .seat-btn');
    await h.waitForSelector(seatOf(idM), WAIT);
    // On the wire a reload is a leave and a join (the browser's close frame): the seat is freed,
    // and the reloaded page takes it again.
    await m.reload();
    await m.waitForSelector('#conn[data-state="open"], #conn[data-state="resumed"]', WAIT);
    await m.waitForSelector('#seat-row li.seat.self[data-seat="1"]', WAIT);
    const idAfter = await m.evaluate(() => window.chorusStats.member);
    await h.waitForSelector(`#seat-row li.seat[data-seat="1"][data-member="${idAfter}"]`, WAIT);
    await h.reload();
    await h.waitForSelector('#conn[data-state="open"], #conn[data-state="resumed"]', WAIT);
    await h.waitForSelector('label.seat-count:not([hidden])', WAIT);
    assert.match(new URL(h.url()).search, /admin=1/);
    assert.deepEqual(errors, []);
  });
