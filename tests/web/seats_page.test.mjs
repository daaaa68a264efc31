// The page's stage (web/seats.js) against a scripted server in headless Chromium: the page is
// served by chorusd, but its WebSocket is answered by the test (Playwright's routeWebSocket), so
// every seat state can be set up exactly and every message the page sends is seen. The real
// server's side of the same flow is seats.test.mjs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DESKTOP, PHONE, WAIT, checkAxe, openPage, pageSuite, row, shot } from './browser.mjs';

const suite = pageSuite();
const { errors } = suite;

const seat = (i, member = null, extra = {}) =>
  ({ seat: i, member, locked: false, muted: false, ...extra });
const people = [
  { member: 1, user: 'hana', name: 'Hana', muted: false, speak: true, admin: true },
  { member: 2, user: 'leo', name: 'Leo Lindqvist', muted: false, speak: true, admin: false },
  { member: 3, user: 'tara', name: 'Tara', muted: false, speak: true, admin: false },
  { member: 4, user: 'mia', name: 'Mia', muted: false, speak: true, admin: false },
  { member: 5, user: 'zoe', name: 'Zoe', muted: false, speak: true, admin: false },
  { member: 6, user: 'ivy', name: 'Ivy', muted: false, speak: true, admin: false },
];
// Hana hosts on seat 1, Leo sits on 2, seat 3 is locked, Tara is on the muted seat 4; Mia and
// Zoe have raised their hands; Ivy listens.
const SEATS = { count: 8, list: [seat(0, 1), seat(1, 2), seat(2, null, { locked: true }),
  seat(3, 3, { muted: true }), seat(4), seat(5), seat(6), seat(7)] };

// Joins through the form as member `me`; resolves with the page and its scripted server:
// {json: [what the page sent], binary: [first bytes of its frames], send(obj), until(pred)}.
async function scripted(label, me, { viewport = DESKTOP } = {}) {
  const p = await openPage(suite.browser, label, { errors, viewport });
  const srv = { json: [], binary: [], checks: new Set() };
  srv.until = (pred, what) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 15000);
    const check = () => pred(srv) && srv.checks.delete(check) && (clearTimeout(timer), resolve());
    srv.checks.add(check);
    check();
  });
  await p.routeWebSocket(/\/v1\/rooms\//, (ws) => {
    srv.send = (obj) => ws.send(JSON.stringify(obj));
    ws.onMessage((m) => {
      if (typeof m === 'string') srv.json.push(JSON.parse(m));
      else srv.binary.push(m[0]);
      for (const check of [...srv.checks]) check();
    });
    const self = people.find((m) => m.member === me);
    srv.send({ type: 'welcome', room: 'stage', member: me, user: self.user, name: self.name,
      seq: 10, resumed: false, gap: false, resume: 'tok', admin: self.admin,
      members: people.filter((m) => m.member !== me), seats: SEATS, hands: [4, 5] });
    srv.send({ type: 'speaking', members: [2, 1] });
  });
  await p.goto(`${suite.server.http}/?room=stage`);
  await p.fill('#name', self(me));
  await p.click('#join-btn');
  await p.waitForSelector('#seat-row li.seat', WAIT);
  return [p, srv];
}
const self = (me) => people.find((m) => m.member === me).name;
const sent = (srv, type) => srv.json.filter((m) => m.type === type);

test('a host sees the seats, the hands, who speaks, and runs the room from them', async () => {
  const [p, srv] = await scripted('host', 1);
  assert.equal(await p.locator('#seat-row li.seat').count(), 8);
  await p.waitForSelector('#seat-row li.seat.speaking[data-member="2"]', WAIT);
  await p.waitForSelector('#seat-row li.seat.speaking[data-member="1"]', WAIT);
  await p.waitForSelector(`${row(2)}.speaking`, WAIT);
  assert.equal(await p.locator('#seat-row li.seat[data-seat="2"].locked.empty').count(), 1);
  assert.equal(await p.locator('#seat-row li.seat[data-member="3"].muted .seat-badge.mute')
    .count(), 1);
  assert.equal(await p.locator(`${row(3)}.speaking`).count(), 0);
  await p.waitForSelector(`${row(4)}.listener`, WAIT);
  await p.waitForSelector(`${row(1)} .host-badge`, WAIT);
  assert.equal(await p.inputValue('#seat-count'), '8');
  assert.equal(await p.isVisible('#hand-btn'), false, 'a seated host has no hand to raise');
  await shot(p, 'stage-host-desktop');
  await checkAxe(p, 'the host stage');

  // Seated, its microphone goes out as 0x03 with a level.
  await srv.until((s) => s.binary.length >= 5, 'audio from the seated host');
  assert.ok(srv.binary.every((op) => op === 3), `ops ${[...new Set(srv.binary)]}`);

  // The queue of hands: "Invite to seat" moves Mia onto the lowest free unlocked seat (5).
  await p.click('#hand-list li[data-member="4"] .chip.invite-seat');
  await srv.until((s) => sent(s, 'move').length === 1, 'the move');
  assert.deepEqual(sent(srv, 'move')[0], { type: 'move', member: 4, seat: 4 });
  await p.click('#hand-list li[data-member="5"] .chip.lower');
  await srv.until((s) => sent(s, 'hand').length === 1, 'the lowered hand');
  assert.deepEqual(sent(srv, 'hand')[0], { type: 'hand', member: 5, raised: false });

  // The menu of Leo's seat: lock it, mute it, stand him up; an empty seat: put someone there.
  await p.click('#seat-row li.seat[data-seat="1"] .seat-btn');
  await p.waitForSelector('#seat-row li.seat[data-seat="1"] .seat-menu', WAIT);
  await shot(p, 'stage-host-menu-desktop');
  await checkAxe(p, 'the host stage with a seat menu open');
  await p.click('#seat-row li.seat[data-seat="1"] .seat-menu .chip.lock');
  for (const [cls, msg] of [['mute-seat', { type: 'seat', seat: 1, muted: true }],
    ['stand', { type: 'move', member: 2, seat: null }]]) {
    await p.click('#seat-row li.seat[data-seat="1"] .seat-btn');
    await p.click(`#seat-row li.seat[data-seat="1"] .seat-menu .chip.${cls}`);
    await srv.until((s) => s.json.some((m) => JSON.stringify(m) === JSON.stringify(msg)), cls);
  }
  await p.click('#seat-row li.seat[data-seat="6"] .seat-btn');
  // Speaking changes up to 5 times a second: they move the rings, never rebuild the row under
  // a host who is choosing from a seat's menu.
  const select = await p.$('#seat-row li.seat[data-seat="6"] .move-select');
  await select.focus();
  srv.send({ type: 'speaking', members: [3] });
  await p.waitForSelector('#seat-row li.seat.speaking[data-member="2"]',
    { ...WAIT, state: 'detached' });
  assert.equal(await select.evaluate((el) => el.isConnected && el === document.activeElement),
    true, 'the menu survived a speaking event');
  assert.equal(await p.locator('#seat-row li.seat.speaking').count(), 0, 'a muted seat has no ring');
  await p.selectOption('#seat-row li.seat[data-seat="6"] .move-select', '3');
  await p.selectOption('#seat-count', '4');
  await srv.until((s) => sent(s, 'seats').length === 1, 'the seat count');
  assert.deepEqual(sent(srv, 'seat'), [{ type: 'seat', seat: 1, locked: true },
    { type: 'seat', seat: 1, muted: true }]);
  assert.deepEqual(sent(srv, 'move').slice(1), [{ type: 'move', member: 2, seat: null },
    { type: 'move', member: 3, seat: 6 }]);
  assert.deepEqual(sent(srv, 'seats'), [{ type: 'seats', count: 4 }]);

  // The server's answer redraws everything: a whole new list, Mia seated, her hand down.
  srv.send({ type: 'seats', seq: 11, by: 1, count: 4, list: [seat(0, 1), seat(1, null,
    { locked: true }), seat(2, 4), seat(3)] });
  srv.send({ type: 'hand', seq: 12, by: 1, member: 4, raised: false });
  await p.waitForSelector('#seat-row li.seat[data-member="4"]', WAIT);
  await p.waitForFunction(() => document.querySelectorAll('#seat-row li.seat').length === 4,
    null, WAIT);
  await p.waitForSelector('#hand-list li[data-member="4"]', { ...WAIT, state: 'detached' });
  await p.waitForSelector(`${row(2)}.listener`, WAIT);
  assert.deepEqual(errors, []);
});

test('a listener on a phone raises a hand, takes a seat, and sends audio only when seated',
  async () => {
    const [p, srv] = await scripted('listener', 6, { viewport: PHONE });
    await p.waitForSelector('#hand-btn:not([hidden])', WAIT);
    await p.waitForSelector('#mic-status:has-text("take a seat")', WAIT);
    await p.waitForSelector(`${row(6)}.listener`, WAIT);
    assert.equal(await p.locator('#hand-list .chip').count(), 0, 'no host buttons');
    await shot(p, 'stage-listener-phone');
    await checkAxe(p, 'the stage on a phone');
    await p.click('#hand-btn');
    await srv.until((s) => sent(s, 'hand').length === 1, 'the raised hand');
    assert.deepEqual(sent(srv, 'hand')[0], { type: 'hand', raised: true });
    // A locked seat cannot be taken; an empty one is taken with a click.
    assert.equal(await p.isDisabled('#seat-row li.seat[data-seat="2"] .seat-btn'), true);
    await p.click('#seat-row li.seat[data-seat="5"] .seat-btn');
    await srv.until((s) => sent(s, 'take_seat').length === 1, 'take_seat');
    assert.deepEqual(sent(srv, 'take_seat')[0], { type: 'take_seat', seat: 5 });
    // Standing, its microphone stayed off the air; seated (by the server's event), it talks.
    assert.equal(srv.binary.length, 0, 'no audio while standing');
    srv.send({ type: 'seats', seq: 11, by: 6, count: 8, list: SEATS.list.map((s) =>
      (s.seat === 5 ? seat(5, 6) : s)) });
    srv.send({ type: 'hand', seq: 12, by: 6, member: 6, raised: false });
    await p.waitForSelector('#seat-row li.seat.self[data-seat="5"]', WAIT);
    await p.waitForSelector('#hand-btn[hidden]', { ...WAIT, state: 'attached' });
    await p.waitForSelector('#mic-status:has-text("Microphone on")', WAIT);
    await srv.until((s) => s.binary.length >= 5, 'audio once seated');
    assert.ok(srv.binary.every((op) => op === 3));
    await shot(p, 'stage-seated-phone');
    // The host mutes the seat: the page says so and stops sending.
    srv.send({ type: 'seats', seq: 13, by: 1, count: 8, list: SEATS.list.map((s) =>
      (s.seat === 5 ? seat(5, 6, { muted: true }) : s)) });
    await p.waitForSelector('#mic-status:has-text("seat is muted")', WAIT);
    assert.deepEqual(errors, []);
  });
