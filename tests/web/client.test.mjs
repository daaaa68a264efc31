// ChorusClient (web/chorus.js) against the real chorusd: membership events, chat and whispers,
// audio relay order, error replies, ping RTT, and reconnect + resume after a network drop.
// Each describe block starts its own server; every wait has a deadline.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startServer, makeClient, record, until, withTimeout } from './helpers.mjs';

const SECRET = 'web-test-secret';
function jwt(claims, secret = SECRET) {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc(claims)}`;
  const sig = crypto.createHmac('sha256', secret).update(body).digest('base64url');
  return `${body}.${sig}`;
}

let server;
const clients = [];
const client = (opts) => {
  const c = makeClient(server, opts);
  clients.push(c);
  return c;
};
let roomSeq = 0;
const freshRoom = () => `r${process.pid}-${++roomSeq}`;

before(async () => {
  server = await startServer();
});

after(async () => {
  for (const c of clients) if (c.state !== 'closed') c.close();
  const code = await server.stop();
  assert.equal(code, 0, `chorusd exit code; stderr:\n${server.stderr()}`);
});

describe('membership', { timeout: 30000 }, () => {
  test('welcome, joined and left keep every member list in step', async () => {
    const room = freshRoom();
    const a = client({ room, name: 'Alice' });
    const wa = await withTimeout(a.connect(), 5000, 'alice welcome');
    assert.equal(wa.type, 'welcome');
    assert.equal(wa.room, room);
    assert.equal(wa.name, 'Alice');
    assert.equal(wa.resumed, false);
    assert.equal(wa.gap, false);
    assert.match(wa.resume, /^[A-Za-z0-9_-]+$/);
    assert.deepEqual(wa.members, []);
    assert.equal(a.state, 'open');
    assert.equal(a.lastSeq, wa.seq);

    const joined = a.once('joined', () => true, 5000);
    const b = client({ room, name: 'Bob ✓' });
    const wb = await withTimeout(b.connect(), 5000, 'bob welcome');
    const j = await joined;
    assert.equal(j.member, wb.member);
    assert.equal(j.seq, wb.seq, 'welcome.seq is the seq of the own joined event');
    assert.equal(j.name, 'Bob ✓');
    assert.notEqual(wb.member, wa.member);
    assert.deepEqual(wb.members.map((m) => m.member), [wa.member]);
    assert.equal(wb.members[0].name, 'Alice');
    assert.equal(a.members.get(wb.member).name, 'Bob ✓');
    assert.equal(b.members.get(wa.member).user, a.user);

    const left = a.once('left', () => true, 5000);
    b.close();
    const l = await left;
    assert.equal(l.member, wb.member);
    assert.equal(l.reason, 'closed');
    assert.equal(l.seq, j.seq + 1);
    assert.equal(a.members.size, 0);
    assert.equal(b.state, 'closed');
    a.close();
  });

  test('the same user joining again replaces the old connection (4009, no reconnect)', async () => {
    const room = freshRoom();
    const a = client({ room });
    await a.connect();
    const old = client({ room, name: 'Twin' });
    const first = await old.connect();
    await until(a, ['joined'], () => a.members.has(first.member), 5000, 'a sees the twin');
    const states = record(old, ['state']);
    const events = record(a, ['left', 'joined']);
    const again = client({ room, user: old.user, name: 'Twin' });
    const closed = old.once('close', () => true, 5000);
    const w = await again.connect();
    const info = await closed;
    assert.equal(info.code, 4009);
    assert.equal(info.reason, 'replaced');
    assert.notEqual(w.member, first.member);
    assert.deepEqual(states.map((e) => e.ev.state), ['closed'], 'no reconnect after 4009');
    await until(a, ['joined'], () => events.length >= 2, 5000, 'left+joined');
    assert.deepEqual(events.map((e) => [e.t, e.ev.member, e.ev.reason]),
      [['left', first.member, 'replaced'], ['joined', w.member, undefined]]);
    a.close();
    again.close();
  });
});

describe('text messages', { timeout: 30000 }, () => {
  test('chat reaches everyone including the sender; whisper reaches only its target', async () => {
    const room = freshRoom();
    const [a, b, c] = [client({ room }), client({ room }), client({ room })];
    await a.connect();
    await b.connect();
    await c.connect();
    await until(a, ['joined'], () => a.members.size === 2, 5000, 'a sees b and c');

    const got = [a, b, c].map((x) => x.once('chat', () => true, 5000));
    assert.ok(a.chat('hello, room'));
    const chats = await Promise.all(got);
    for (const m of chats) {
      assert.equal(m.from, a.member);
      assert.equal(m.text, 'hello, room');
      assert.equal(m.seq, chats[0].seq);
    }

    const cWhispers = record(c, ['whisper']);
    const wb = b.once('whisper', () => true, 5000);
    assert.ok(a.whisper(b.member, 'psst'));
    const w = await wb;
    assert.equal(w.from, a.member);
    assert.equal(w.text, 'psst');
    assert.equal(w.seq, undefined, 'whispers carry no seq');
    // c's ping round trip passes after the whisper was routed, so c would have it by now.
    await c.ping();
    assert.equal(cWhispers.length, 0);

    const err = a.once('error', () => true, 5000);
    a.whisper(0x7fffffff, 'anyone?');
    assert.equal((await err).code, 'no_such_member');
    [a, b, c].forEach((x) => x.close());
  });

  test('ping measures the round trip and echoes t verbatim', async () => {
    const a = client({ room: freshRoom() });
    await a.connect();
    const rtt = await a.ping();
    assert.ok(rtt >= 0 && rtt < 1000, `rtt ${rtt}`);
    assert.equal(a.rtt, rtt);
    const pong = a.once('pong', (p) => p.t && p.t.deep === true, 5000);
    a.sendRaw({ type: 'ping', t: { deep: true, list: [1, 'x'] } });
    assert.deepEqual((await pong).t, { deep: true, list: [1, 'x'] });
    a.close();
  });

  test('mute events carry by; audio from a muted member is dropped with forbidden', async () => {
    const room = freshRoom();
    const a = client({ room });
    const b = client({ room });
    await a.connect();
    await b.connect();
    const seen = b.once('muted', () => true, 5000);
    a.mute(true);
    const m = await seen;
    assert.deepEqual([m.member, m.muted, m.by], [a.member, true, a.member]);
    await until(a, ['muted'], () => a.muted === true, 5000, 'own muted event');
    assert.equal(b.members.get(a.member).muted, true);

    const bAudio = record(b, ['audio']);
    const err = a.once('error', (e) => e.code === 'forbidden', 5000);
    a.sendAudio(new Uint8Array([1, 2, 3]));
    await err;
    a.mute(false);
    await until(b, ['muted'], () => b.members.get(a.member).muted === false, 5000, 'unmute');
    a.sendAudio(new Uint8Array([9]));
    await until(b, ['audio'], () => bAudio.length === 1, 5000, 'audio after unmute');
    assert.deepEqual([...bAudio[0].ev.payload], [9]);
    a.close();
    b.close();
  });
});

describe('errors keep the connection open', { timeout: 30000 }, () => {
  test('bad_message, too_big and forbidden each get one error reply', async () => {
    const a = client({ room: freshRoom() });
    await a.connect();
    const errors = record(a, ['error']);
    const cases = [
      ['not json', 'bad_message'],
      [{ type: 'dance' }, 'bad_message'],
      [{ text: 'no type' }, 'bad_message'],
      [{ type: 'chat' }, 'bad_message'],
      [{ type: 'whisper', to: 'bob', text: 'x' }, 'bad_message'],
      [{ type: 'kick', member: 1.5 }, 'bad_message'],
      [{ type: 'chat', text: 'x'.repeat(4097) }, 'too_big'],
      [{ type: 'kick', member: a.member }, 'forbidden'],
    ];
    for (const [msg] of cases) assert.ok(a.sendRaw(msg));
    await until(a, ['error'], () => errors.length >= cases.length, 5000, 'all error replies');
    assert.deepEqual(errors.map((e) => e.ev.code), cases.map((c) => c[1]));
    for (const e of errors) assert.equal(typeof e.ev.message, 'string');
    // Still open and serving.
    assert.ok((await a.ping()) >= 0);
    assert.equal(a.state, 'open');
    a.close();
  });

  test('bad binary frames: unknown op, whisper audio to an absent member', async () => {
    const a = client({ room: freshRoom() });
    await a.connect();
    const errors = record(a, ['error']);
    a.sendRaw(new Uint8Array([0x07, 1, 2]));
    await until(a, ['error'], () => errors.length >= 1, 5000, 'unknown op error');
    assert.equal(errors[0].ev.code, 'bad_message');
    a.sendWhisperAudio(0x7ffffff0, new Uint8Array([1, 2]));
    await until(a, ['error'], () => errors.length >= 2, 5000, 'no_such_member');
    assert.equal(errors[1].ev.code, 'no_such_member');
    assert.ok((await a.ping()) >= 0);
    assert.equal(a.state, 'open');
    a.close();
  });
});

describe('audio relay', { timeout: 30000 }, () => {
  test('room audio arrives in send order at every other member, never echoed', async () => {
    const room = freshRoom();
    const [a, b, c] = [client({ room }), client({ room }), client({ room })];
    for (const x of [a, b, c]) await x.connect();
    const got = { a: record(a, ['audio']), b: record(b, ['audio']), c: record(c, ['audio']) };
    const N = 300;
    for (let i = 0; i < N; i++) {
      const p = new Uint8Array(40 + (i % 50));
      new DataView(p.buffer).setUint32(0, i);
      p.fill(i & 0xff, 4);
      assert.ok(a.sendAudio(p));
    }
    for (const k of ['b', 'c']) {
      const x = k === 'b' ? b : c;
      await until(x, ['audio'], () => got[k].length >= N, 5000, `${k} gets ${N} frames`);
      got[k].forEach(({ ev }, i) => {
        assert.equal(ev.from, a.member);
        assert.equal(ev.whisper, false);
        assert.equal(ev.payload.length, 40 + (i % 50));
        const dv = new DataView(ev.payload.buffer, ev.payload.byteOffset, ev.payload.byteLength);
        assert.equal(dv.getUint32(0), i, 'in send order');
        assert.equal(ev.payload[ev.payload.length - 1], i & 0xff);
      });
    }
    await a.ping();
    assert.equal(got.a.length, 0, 'the sender does not hear itself');
    [a, b, c].forEach((x) => x.close());
  });

  test('whisper audio reaches only its target, flagged as whisper', async () => {
    const room = freshRoom();
    const [a, b, c] = [client({ room }), client({ room }), client({ room })];
    for (const x of [a, b, c]) await x.connect();
    const bAudio = record(b, ['audio']);
    const cAudio = record(c, ['audio']);
    for (let i = 0; i < 20; i++) a.sendWhisperAudio(c.member, new Uint8Array([i, 0xaa]));
    await until(c, ['audio'], () => cAudio.length === 20, 5000, 'whisper audio');
    cAudio.forEach(({ ev }, i) => {
      assert.deepEqual([ev.from, ev.whisper, ev.payload[0]], [a.member, true, i]);
    });
    await b.ping();
    assert.equal(bAudio.length, 0);
    [a, b, c].forEach((x) => x.close());
  });
});

describe('reconnect and resume', { timeout: 30000 }, () => {
  test('a dropped connection resumes the same member and replays missed events', async () => {
    const room = freshRoom();
    const a = client({ room, name: 'Dropper', reconnect: { baseMs: 400, maxMs: 800 } });
    const b = client({ room });
    await a.connect();
    await b.connect();
    await until(a, ['joined'], () => a.members.size === 1, 5000, 'a sees b');
    const member = a.member;
    const bEvents = record(b, ['left', 'joined']);
    const states = record(a, ['state']);
    const aChats = record(a, ['chat', 'whisper']);

    const reconnecting = a.once('state', (s) => s.state === 'reconnecting', 5000);
    a._dropForTest(); // TCP gone without a close frame: a network failure
    await reconnecting;
    // While a is away (the first retry waits >= 200 ms), b talks to the room and to a.
    const echo = b.once('chat', (m) => m.text === 'while you were away', 5000);
    b.chat('while you were away');
    b.whisper(member, 'held for you');
    await echo;
    const resumed = await a.once('state', (s) => s.state === 'resumed', 5000);
    assert.equal(resumed.resumed, true);
    assert.equal(a.member, member, 'same member id after resume');
    await until(a, ['whisper'], () => aChats.length >= 2, 5000, 'replay + held whisper');
    assert.equal(aChats[0].t, 'chat');
    assert.equal(aChats[0].ev.text, 'while you were away');
    assert.equal(aChats[0].ev.replayed, true);
    assert.equal(aChats[1].t, 'whisper');
    assert.equal(aChats[1].ev.text, 'held for you');
    assert.deepEqual(states.map((s) => s.ev.state), ['reconnecting', 'resumed']);
    assert.equal(a.stats.reconnects, 1);

    // Live traffic continues consecutively; nobody saw a leave or a join.
    const live = a.once('chat', (m) => m.text === 'live again', 5000);
    b.chat('live again');
    const l = await live;
    assert.equal(l.seq, a.lastSeq);
    assert.equal(l.replayed, undefined);
    assert.equal(bEvents.length, 0, `b saw ${JSON.stringify(bEvents)}`);
    const pongs = await a.ping();
    assert.ok(pongs >= 0);
    a.close();
    b.close();
  });

  test('a close the user asked for does not reconnect and others see left/closed', async () => {
    const room = freshRoom();
    const a = client({ room });
    const b = client({ room });
    await a.connect();
    await b.connect();
    const states = record(a, ['state']);
    const left = b.once('left', () => true, 5000);
    a.close();
    assert.equal((await left).reason, 'closed');
    assert.deepEqual(states.map((s) => s.ev.state), ['closed']);
    b.close();
  });
});

describe('short history', { timeout: 30000 }, () => {
  let small;
  before(async () => {
    small = await startServer(['--history', '1']);
  });
  after(async () => {
    assert.equal(await small.stop(), 0);
  });

  test('a resume beyond the history gets gap:true and resyncs from welcome.members', async () => {
    const room = freshRoom();
    const mk = (o) => {
      const c = makeClient(small, { room, ...o });
      clients.push(c);
      return c;
    };
    const a = mk({ reconnect: { baseMs: 600, maxMs: 1200 } });
    const b = mk({ name: 'Bee' });
    await a.connect();
    await b.connect();
    await until(a, ['joined'], () => a.members.size === 1, 5000, 'a sees b');
    const gaps = record(a, ['gap']);
    const reconnecting = a.once('state', (s) => s.state === 'reconnecting', 5000);
    a._dropForTest();
    await reconnecting;
    // Three events while away, history keeps one: the resume cannot be replayed.
    const c = mk({ name: 'Cee' });
    await c.connect();
    for (const text of ['one', 'two']) {
      const echo = b.once('chat', (m) => m.text === text, 5000);
      b.chat(text);
      await echo;
    }
    const welcome = await a.once('welcome', () => true, 6000);
    assert.equal(welcome.resumed, true);
    assert.equal(welcome.gap, true);
    assert.equal(a.state, 'resumed');
    assert.equal(gaps.length, 1);
    assert.equal(gaps[0].ev.reason, 'history');
    assert.equal(a.lastSeq, welcome.seq);
    assert.deepEqual([...a.members.values()].map((m) => m.name).sort(), ['Bee', 'Cee']);
    const next = a.once('chat', (m) => m.text === 'after', 5000);
    b.chat('after');
    assert.equal((await next).seq, welcome.seq + 1);
    [a, b, c].forEach((x) => x.close());
  });
});

describe('auth and admin', { timeout: 30000 }, () => {
  let auth;
  before(async () => {
    auth = await startServer(['--auth-secret', SECRET]);
  });
  after(async () => {
    assert.equal(await auth.stop(), 0);
  });
  const exp = () => Math.floor(Date.now() / 1000) + 600;
  const mk = (room, claims) => {
    const c = makeClient(auth, { room, token: jwt({ room, exp: exp(), ...claims }) });
    clients.push(c);
    return c;
  };

  test('a refused token rejects connect() without reconnect attempts', async () => {
    const room = freshRoom();
    const c = makeClient(auth, { room, token: jwt({ sub: 'x', room, exp: exp() }, 'wrong') });
    const states = record(c, ['state']);
    await assert.rejects(c.connect(), (e) => e.code === 'http_401');
    assert.deepEqual(states.map((s) => s.ev.state), ['connecting', 'closed']);
  });

  test('admin mute is sticky and kick closes with 4001 without reconnect', async () => {
    const room = freshRoom();
    const admin = mk(room, { sub: 'boss', name: 'Boss', admin: true });
    const b = mk(room, { sub: 'bea', name: 'Bea' });
    await admin.connect();
    const wb = await b.connect();
    assert.equal(wb.name, 'Bea');
    assert.equal(wb.user, 'bea');

    const muted = b.once('muted', () => true, 5000);
    admin.muteMember(b.member, true);
    const m = await muted;
    assert.deepEqual([m.member, m.muted, m.by], [b.member, true, admin.member]);
    const err = b.once('error', () => true, 5000);
    b.mute(false);
    assert.equal((await err).code, 'forbidden', 'cannot unmute after an admin mute');

    const states = record(b, ['state']);
    const closed = b.once('close', () => true, 5000);
    const left = admin.once('left', () => true, 5000);
    admin.kick(b.member);
    const info = await closed;
    assert.deepEqual([info.code, info.reason], [4001, 'kicked']);
    assert.deepEqual(states.map((s) => s.ev.state), ['closed']);
    const l = await left;
    assert.deepEqual([l.member, l.reason], [b.member, 'kicked']);
    admin.close();
  });
});

describe('server-initiated closes', { timeout: 30000 }, () => {
  test('an idle timeout (1001) while the network is stalled is resumed', async () => {
    const srv = await startServer(['--ping-interval', '100ms', '--idle-timeout', '400ms']);
    try {
      const room = freshRoom();
      const a = makeClient(srv, { room, reconnect: { baseMs: 50, maxMs: 200 } });
      const b = makeClient(srv, { room });
      clients.push(a, b);
      await a.connect();
      await b.connect();
      const member = a.member;
      const bEvents = record(b, ['left', 'joined']);
      const states = record(a, ['state']);
      // A 1 s outage: a reads nothing (so it answers no ping) while the server times it out.
      a._ws._socket.pause();
      const outage = new Promise((resolve) => setTimeout(resolve, 1000));
      await outage;
      const echo = b.once('chat', (m) => m.text === 'during the outage', 5000);
      b.chat('during the outage');
      await echo;
      a._ws._socket.resume();
      await a.once('state', (st) => st.state === 'resumed', 5000);
      const reconnecting = states.find((st) => st.ev.state === 'reconnecting');
      assert.equal(reconnecting.ev.code, 1001, 'the server closed the stalled connection with 1001');
      assert.equal(a.member, member);
      await until(a, ['chat'], () => a.lastSeq >= b.lastSeq, 5000, 'replay');
      assert.deepEqual(bEvents, [], 'an away member is not reported as left');
      a.close();
      b.close();
    } finally {
      assert.equal(await srv.stop(), 0);
    }
  });

  test('a draining server (SIGTERM) closes with 1001 and the client starts reconnecting', async () => {
    const srv = await startServer();
    const a = makeClient(srv, { room: freshRoom(), reconnect: { baseMs: 50, maxMs: 100 } });
    clients.push(a);
    await a.connect();
    const reconnecting = a.once('state', (st) => st.state === 'reconnecting', 5000);
    assert.equal(await srv.stop(), 0);
    assert.equal((await reconnecting).code, 1001);
    a.close();
    assert.equal(a.state, 'closed');
  });
});
