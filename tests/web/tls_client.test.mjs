// ChorusClient (web/chorus.js) over wss:// against chorusd's own TLS listener (--tls-listen): a
// test CA made here signs the server's certificate and each client trusts that CA only, so the
// certificate and host name are checked as a browser would. Joining, chat and audio between two
// wss clients and a plain ws one in the same room, a dropped TLS connection resuming, closes the
// server starts (replaced, drain) arriving through TLS, and a client that does not trust the CA
// refused before any upgrade.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import {
  makeClient, makeTestPki, record, startTlsServer, until, webSocketTrusting, withTimeout,
} from './helpers.mjs';

let pki;
let server;
let SecureWebSocket;
const clients = [];
// A client of the TLS listener (wss://) unless `plain`.
const client = (opts = {}, plain = false) => {
  const c = makeClient(server, plain ? opts : { url: server.wss, WebSocket: SecureWebSocket,
    ...opts });
  clients.push(c);
  return c;
};
let roomSeq = 0;
const freshRoom = () => `tls${process.pid}-${++roomSeq}`;

before(async () => {
  pki = makeTestPki();
  SecureWebSocket = webSocketTrusting(pki.ca);
  server = await startTlsServer(pki);
});

after(async () => {
  for (const c of clients) if (c.state !== 'closed') c.close();
  if (server) assert.equal(await server.stop(), 0, `chorusd stderr:\n${server.stderr()}`);
  pki?.remove();
});

describe('wss:// with a test CA', { timeout: 30000 }, () => {
  test('two wss clients and a ws one share a room: members, chat and audio in order', async () => {
    const room = freshRoom();
    const a = client({ room, name: 'Alice' });
    const b = client({ room, name: 'Bob' });
    const c = client({ room, name: 'Plain' }, true);
    const wa = await withTimeout(a.connect(), 10000, 'alice welcome over wss');
    assert.equal(wa.type, 'welcome');
    assert.match(a.url(false), /^wss:\/\/127\.0\.0\.1:\d+\/v1\/rooms\//);
    await withTimeout(b.connect(), 10000, 'bob welcome over wss');
    await withTimeout(c.connect(), 10000, 'plain welcome over ws');
    await until(a, ['joined'], () => a.members.size === 2, 5000, 'a sees b and c');
    assert.deepEqual([...a.members.values()].map((m) => m.name).sort(), ['Bob', 'Plain']);

    const chats = [a, b, c].map((x) => x.once('chat', (m) => m.text === 'über TLS ✓', 5000));
    assert.ok(b.chat('über TLS ✓'));
    for (const m of await Promise.all(chats)) assert.equal(m.from, b.member);

    // A burst large enough to span many TLS records, sizes varying so that frames straddle them.
    const got = { b: record(b, ['audio']), c: record(c, ['audio']) };
    const N = 300;
    for (let i = 0; i < N; i++) {
      const p = new Uint8Array(40 + ((i * 37) % 600));
      new DataView(p.buffer).setUint32(0, i);
      p.fill(i & 0xff, 4);
      assert.ok(a.sendAudio(p));
    }
    for (const [k, x] of [['b', b], ['c', c]]) {
      await until(x, ['audio'], () => got[k].length >= N, 10000, `${k} gets ${N} frames`);
      got[k].forEach(({ ev }, i) => {
        assert.equal(ev.from, a.member);
        assert.equal(ev.payload.length, 40 + ((i * 37) % 600));
        const dv = new DataView(ev.payload.buffer, ev.payload.byteOffset, ev.payload.byteLength);
        assert.equal(dv.getUint32(0), i, `${k}: frame ${i} in send order`);
        assert.equal(ev.payload[ev.payload.length - 1], i & 0xff);
      });
    }
    // And the other way: plain ws in, wss out.
    const back = b.once('audio', (ev) => ev.from === c.member, 5000);
    c.sendAudio(new Uint8Array([7, 7, 7]));
    assert.deepEqual([...(await back).payload], [7, 7, 7]);
    [a, b, c].forEach((x) => x.close());
  });

  test('a dropped wss connection resumes the same member and replays what it missed',
    async () => {
      const room = freshRoom();
      const a = client({ room, name: 'Dropper', reconnect: { baseMs: 400, maxMs: 800 } });
      const b = client({ room });
      await withTimeout(a.connect(), 10000, 'a welcome');
      await withTimeout(b.connect(), 10000, 'b welcome');
      await until(a, ['joined'], () => a.members.size === 1, 5000, 'a sees b');
      const member = a.member;
      const bEvents = record(b, ['left', 'joined']);
      const states = record(a, ['state']);
      const aGot = record(a, ['chat', 'whisper', 'audio']);

      const reconnecting = a.once('state', (s) => s.state === 'reconnecting', 5000);
      a._dropForTest(); // the TLS socket destroyed without close_notify or a close frame
      await reconnecting;
      const echo = b.once('chat', (m) => m.text === 'while you were away', 5000);
      b.chat('while you were away');
      b.whisper(member, 'held for you');
      await echo;
      const resumed = await a.once('state', (s) => s.state === 'resumed', 10000);
      assert.equal(resumed.resumed, true);
      assert.equal(a.member, member, 'same member id after the resume over a new TLS session');
      await until(a, ['whisper'], () => aGot.length >= 2, 5000, 'replay and the held whisper');
      assert.deepEqual(aGot.map((e) => [e.t, e.ev.text, e.ev.replayed]),
        [['chat', 'while you were away', true], ['whisper', 'held for you', undefined]]);
      assert.deepEqual(states.map((s) => s.ev.state), ['reconnecting', 'resumed']);

      // Live again in both directions; b never saw a leave or a join.
      const audio = a.once('audio', (ev) => ev.from === b.member, 5000);
      b.sendAudio(new Uint8Array([1, 2, 3, 4]));
      assert.deepEqual([...(await audio).payload], [1, 2, 3, 4]);
      const live = b.once('chat', (m) => m.text === 'back' && m.from === member, 5000);
      a.chat('back');
      await live;
      assert.equal(bEvents.length, 0, `b saw ${JSON.stringify(bEvents)}`);
      a.close();
      b.close();
    });

  test('closes the server starts reach the client through TLS: 4009 replaced, 1001 on drain',
    async () => {
      const room = freshRoom();
      const old = client({ room, name: 'Twin' });
      await withTimeout(old.connect(), 10000, 'the first connection');
      const closed = old.once('close', () => true, 5000);
      const again = client({ room, user: old.user, name: 'Twin' });
      await withTimeout(again.connect(), 10000, 'the replacing connection');
      const info = await closed;
      assert.deepEqual([info.code, info.reason], [4009, 'replaced']);
      again.close();

      // A second server, so that its SIGTERM drain can be watched from a connected client.
      const draining = await startTlsServer(pki);
      const a = makeClient(draining, { url: draining.wss, WebSocket: SecureWebSocket,
        room: freshRoom(), reconnect: { baseMs: 50, maxMs: 100 } });
      clients.push(a);
      await withTimeout(a.connect(), 10000, 'welcome from the draining server');
      const reconnecting = a.once('state', (st) => st.state === 'reconnecting', 10000);
      assert.equal(await draining.stop(), 0, draining.stderr());
      assert.equal((await reconnecting).code, 1001);
      a.close();
    });

  test('a client that does not trust the test CA is refused before the upgrade', async () => {
    // Node's default trust store: the test CA is not in it, so the handshake must fail (proving
    // the clients above really verified the certificate).
    const ws = new WebSocket(`${server.wss}/v1/rooms/x?user=u`, 'chorus.v1');
    const outcome = await withTimeout(new Promise((resolve) => {
      ws.on('open', () => resolve({ opened: true }));
      ws.on('error', (err) => resolve({ error: err }));
    }), 10000, 'the untrusted TLS handshake to end');
    assert.equal(outcome.opened, undefined, 'an untrusted certificate was accepted');
    assert.match(outcome.error.code || '', /CERT|SIGNED|VERIFY/, String(outcome.error));
    // The server is unharmed: a trusting client still joins.
    const ok = client({ room: freshRoom() });
    await withTimeout(ok.connect(), 10000, 'welcome after the refused handshake');
    ok.close();
  });
});
