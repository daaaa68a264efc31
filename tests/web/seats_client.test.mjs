// The JS client's mic seats, hands and speaking set (PROTOCOL-SEATS, issue 14) against a scripted
// fake server: the model follows every `seats` (replaced, never merged), `hand` and `speaking`
// message, survives a resume by replaying the missed events (and a page reload's first resume),
// resyncs from the welcome after a gap, and every method sends the exact message the contract
// names. The real server's side is tested in tests/integration.

import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { WebSocketServer } from 'ws';
import { freePort, makeClient, until, withTimeout } from './helpers.mjs';
import { RoomModel, levelFromRms, seatsOf } from '../../web/room_model.js';

const clients = [];
const fakes = [];
after(async () => {
  for (const c of clients) if (c.state !== 'closed') c.close();
  for (const f of fakes) await f.close();
});

// A server that hands each WebSocket connection to the test: `next()` resolves with the next
// one as {url, send(obj), json: [messages], binary: [Uint8Array], drop(), until(pred)}.
async function fakeServer() {
  const port = await freePort();
  const wss = new WebSocketServer({ noServer: true });
  const srv = http.createServer((req, res) => res.writeHead(426).end());
  const waiting = [];
  const ready = [];
  srv.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => {
      const checks = new Set();
      const conn = {
        url: new URL(req.url, 'http://x'),
        json: [],
        binary: [],
        send: (obj) => ws.send(JSON.stringify(obj)),
        drop: () => ws.terminate(), // no close frame: the client resumes
        // Resolves once pred(conn) holds, checked after every message that arrives.
        until: (pred, what) => withTimeout(new Promise((resolve) => {
          const check = () => pred(conn) && checks.delete(check) && resolve();
          checks.add(check);
          check();
        }), 10000, what),
      };
      ws.on('message', (data, isBinary) => {
        if (isBinary) conn.binary.push(new Uint8Array(data));
        else conn.json.push(JSON.parse(String(data)));
        for (const check of [...checks]) check();
      });
      if (waiting.length) waiting.shift()(conn);
      else ready.push(conn);
    });
  });
  await new Promise((resolve) => srv.listen(port, '127.0.0.1', resolve));
  const fake = {
    url: `ws://127.0.0.1:${port}`,
    next: () => withTimeout(new Promise((resolve) => {
      if (ready.length) resolve(ready.shift());
      else waiting.push(resolve);
    }), 10000, 'a connection to the fake server'),
    close: () => {
      for (const ws of wss.clients) ws.terminate();
      srv.closeAllConnections();
      return new Promise((resolve) => srv.close(resolve));
    },
  };
  fakes.push(fake);
  return fake;
}

const seat = (i, member = null, extra = {}) =>
  ({ seat: i, member, locked: false, muted: false, ...extra });
const members = [
  { member: 3, user: 'host', name: 'Host', muted: false, speak: true, admin: true },
  { member: 9, user: 'lis', name: 'Lis', muted: false, speak: true, admin: false },
];
function welcome(extra = {}) {
  return { type: 'welcome', room: 'r', member: 7, user: 'me', name: 'Me', seq: 10,
    resumed: false, gap: false, resume: 'tok1', admin: false, members,
    seats: { count: 4, list: [seat(0, 3), seat(1), seat(2, null, { locked: true }), seat(3)] },
    hands: [9], ...extra };
}

async function joined(fake, opts = {}) {
  const c = makeClient(fake, { room: 'r', name: 'Me', ...opts });
  clients.push(c);
  const first = fake.next();
  const welcomed = c.connect();
  const conn = await first;
  return { c, conn, welcomed };
}

// Resolves once the client has seen seq `n` (every seq'd event is applied before its handlers).
const seen = (c, n) => until(c, ['seats', 'hand', 'joined', 'left', 'muted', 'chat'],
  () => c.lastSeq >= n, 10000, `seq ${n}`);

describe('seat model from the wire', { timeout: 30000 }, () => {
  test('welcome fills seats, hands and hosts; every seats event replaces the list', async () => {
    const fake = await fakeServer();
    const { c, conn, welcomed } = await joined(fake);
    conn.send(welcome({ admin: true }));
    await withTimeout(welcomed, 10000, 'welcome');
    assert.equal(c.admin, true);
    assert.equal(c.members.get(3).admin, true);
    assert.equal(c.members.get(9).admin, false);
    assert.equal(c.seats.count, 4);
    assert.deepEqual(c.seats.list.map((s) => s.member), [3, null, null, null]);
    assert.equal(c.seats.list[2].locked, true);
    assert.deepEqual(c.hands, [9]);
    assert.equal(c.seatOf(3), 0);
    assert.equal(c.seatOf(), -1);

    const events = [];
    c.on('seats', (e) => events.push(e));
    // Host moves Lis onto seat 1: seats, then the hand lowered with the same `by`.
    conn.send({ type: 'seats', seq: 11, by: 3, count: 4,
      list: [seat(0, 3), seat(1, 9), seat(2, null, { locked: true }), seat(3)] });
    conn.send({ type: 'hand', seq: 12, by: 3, member: 9, raised: false });
    // A smaller count: the list is the new one, nothing of the old survives.
    conn.send({ type: 'seats', seq: 13, by: 3, count: 2, list: [seat(0, 3, { muted: true }),
      seat(1, 9)] });
    await seen(c, 13);
    assert.equal(c.seats.count, 2);
    assert.deepEqual(c.seats.list, [seat(0, 3, { muted: true }), seat(1, 9)]);
    assert.deepEqual(c.hands, []);
    assert.equal(events.length, 2);
    assert.equal(events[1].by, 3);
    assert.equal(c.model.mayTalk(9), true);
    assert.equal(c.model.mayTalk(3), false, 'a muted seat');
    assert.equal(c.model.mayTalk(7), false, 'standing in seat mode');

    // Hands keep the order they were raised in; a member who leaves is cleared by the
    // server's own follow-up events (by 0), which the model applies like any other.
    conn.send({ type: 'hand', seq: 14, by: 7, member: 7, raised: true });
    conn.send({ type: 'hand', seq: 15, by: 3, member: 3, raised: true });
    conn.send({ type: 'left', seq: 16, member: 9, user: 'lis', reason: 'closed' });
    conn.send({ type: 'seats', seq: 17, by: 0, count: 2, list: [seat(0, 3, { muted: true }),
      seat(1)] });
    conn.send({ type: 'speaking', members: [3, 7] });
    await seen(c, 17);
    await until(c, ['speaking'], () => c.speaking.length === 2, 10000, 'speaking');
    assert.deepEqual(c.hands, [7, 3]);
    assert.equal(c.members.has(9), false);
    assert.equal(c.seatOf(9), -1);
    assert.deepEqual(c.speaking, [3, 7]);
    // Seat mode off: everyone with speak may talk again.
    conn.send({ type: 'seats', seq: 18, by: 3, count: 0, list: [] });
    await seen(c, 18);
    assert.equal(c.model.seatMode, false);
    assert.equal(c.model.mayTalk(7), true);
    assert.equal(c.model.mayTalk(7, { muted: true }), false);
  });

  test('a resume replays the missed seats and hands onto the kept model', async () => {
    const fake = await fakeServer();
    const { c, conn, welcomed } = await joined(fake);
    conn.send(welcome());
    await welcomed;
    conn.send({ type: 'speaking', members: [3] });
    await until(c, ['speaking'], () => c.speaking.length === 1, 10000, 'speaking');
    const replayed = [];
    c.on('seats', (e) => replayed.push(['seats', e.seq, !!e.replayed]));
    c.on('hand', (e) => replayed.push(['hand', e.seq, !!e.replayed]));

    const again = fake.next();
    conn.drop();
    const back = await again;
    assert.equal(back.url.searchParams.get('resume'), 'tok1');
    assert.equal(back.url.searchParams.get('last_seq'), '10');
    // While away: we were moved onto seat 1 (our hand was never raised), 9 lowered its hand
    // and raised it again, the host raised one. The welcome is as of seq 14; 11..14 follow.
    const now = [seat(0, 3), seat(1, 7), seat(2, null, { locked: true }), seat(3)];
    back.send(welcome({ resumed: true, seq: 14, resume: 'tok2', seats: { count: 4, list: now },
      hands: [3, 9] }));
    back.send({ type: 'seats', seq: 11, by: 3, count: 4, list: now });
    back.send({ type: 'hand', seq: 12, by: 9, member: 9, raised: false });
    back.send({ type: 'hand', seq: 13, by: 3, member: 3, raised: true });
    back.send({ type: 'hand', seq: 14, by: 9, member: 9, raised: true });
    await seen(c, 14);
    assert.equal(c.state, 'resumed');
    assert.equal(c.seatOf(), 1);
    assert.deepEqual(c.hands, [3, 9]);
    assert.deepEqual(c.speaking, [], 'the set is the server\'s to send again after a welcome');
    assert.deepEqual(replayed, [['seats', 11, true], ['hand', 12, true], ['hand', 13, true],
      ['hand', 14, true]]);
  });

  test('a reloaded page resumes from the welcome, then the replay', async () => {
    const fake = await fakeServer();
    const { c, conn, welcomed } = await joined(fake, { resume: { token: 'old', lastSeq: 20 } });
    assert.equal(conn.url.searchParams.get('resume'), 'old');
    assert.equal(conn.url.searchParams.get('last_seq'), '20');
    const list = [seat(0, 7), seat(1, 3)];
    conn.send(welcome({ resumed: true, seq: 22, seats: { count: 2, list }, hands: [] }));
    conn.send({ type: 'hand', seq: 21, by: 7, member: 7, raised: true });
    conn.send({ type: 'seats', seq: 22, by: 7, count: 2, list });
    conn.send({ type: 'hand', seq: 22, by: 7, member: 7, raised: false }); // a duplicate seq
    await welcomed;
    await seen(c, 22);
    assert.equal(c.member, 7);
    assert.equal(c.seatOf(), 0);
    assert.deepEqual(c.hands, [7], 'a duplicate seq is ignored');
  });

  test('a resume with a gap takes the welcome\'s seats and hands', async () => {
    const fake = await fakeServer();
    const { c, conn, welcomed } = await joined(fake);
    conn.send(welcome());
    await welcomed;
    const again = fake.next();
    conn.drop();
    const back = await again;
    back.send(welcome({ resumed: true, gap: true, seq: 90, seats: { count: 1,
      list: [seat(0, null, { muted: true })] }, hands: [3] }));
    await until(c, ['state'], () => c.state === 'resumed', 10000, 'resumed');
    assert.deepEqual(c.seats, { count: 1, list: [seat(0, null, { muted: true })] });
    assert.deepEqual(c.hands, [3]);
    assert.equal(c.lastSeq, 90);
  });
});

describe('seat messages the client sends', { timeout: 30000 }, () => {
  test('every method sends the contract\'s message; 0x03 carries the level', async () => {
    const fake = await fakeServer();
    const { c, conn, welcomed } = await joined(fake);
    conn.send(welcome({ admin: true }));
    await welcomed;
    c.setSeatCount(8);
    c.lockSeat(2);
    c.lockSeat(2, false);
    c.muteSeat(1, true);
    c.setSeat(3, { locked: true, muted: false });
    c.takeSeat();
    c.takeSeat(3);
    c.leaveSeat();
    c.moveMember(9, 3);
    c.standUp(9);
    c.raiseHand();
    c.raiseHand(false);
    c.lowerHand(9);
    await conn.until((k) => k.json.length >= 13, 'the messages at the fake server');
    assert.deepEqual(conn.json, [
      { type: 'seats', count: 8 },
      { type: 'seat', seat: 2, locked: true },
      { type: 'seat', seat: 2, locked: false },
      { type: 'seat', seat: 1, muted: true },
      { type: 'seat', seat: 3, locked: true, muted: false },
      { type: 'take_seat' },
      { type: 'take_seat', seat: 3 },
      { type: 'leave_seat' },
      { type: 'move', member: 9, seat: 3 },
      { type: 'move', member: 9, seat: null },
      { type: 'hand', raised: true },
      { type: 'hand', raised: false },
      { type: 'hand', member: 9, raised: false },
    ]);

    assert.equal(c.sendAudio(new Uint8Array([7, 8]), 42), true);
    assert.equal(c.sendAudio(new Uint8Array([9]), 300), true); // clamped to 127
    assert.equal(c.sendAudio(new Uint8Array([5])), true); // no level: plain 0x01
    await conn.until((k) => k.binary.length >= 3, 'the audio at the fake server');
    assert.deepEqual(conn.binary.map((b) => [...b]), [[3, 42, 7, 8], [3, 127, 9], [1, 5]]);
  });
});

describe('pure helpers', () => {
  test('levelFromRms: RFC 6464 -dBov, 0 loudest, 127 silence', () => {
    assert.equal(levelFromRms(1), 0);
    assert.equal(levelFromRms(2), 0);
    assert.equal(levelFromRms(0.1), 20);
    assert.equal(levelFromRms(0.01), 40);
    assert.equal(levelFromRms(0.001), 60);
    assert.equal(levelFromRms(1e-9), 127);
    assert.equal(levelFromRms(0), 127);
    assert.equal(levelFromRms(Number.NaN), 127);
  });

  test('seatsOf: a malformed list never leaves holes or more than 32 seats', () => {
    assert.deepEqual(seatsOf(null), { count: 0, list: [] });
    assert.deepEqual(seatsOf({ count: 2, list: [{ member: 'x', locked: 1 }] }),
      { count: 2, list: [seat(0), seat(1)] });
    assert.equal(seatsOf({ count: 99, list: [] }).list.length, 32);
    const m = new RoomModel();
    assert.equal(m.apply({ type: 'chat', from: 1, text: 'x' }), false);
    m.apply({ type: 'seats', count: 3, list: [seat(0, 5), seat(1, null, { locked: true })] });
    assert.equal(m.freeSeat(), 2, 'the lowest empty unlocked seat');
    m.apply({ type: 'hand', member: 5, raised: true });
    m.apply({ type: 'hand', member: 5, raised: true }); // raised again: still once
    assert.deepEqual(m.hands, [5]);
  });
});
