// ChorusClient after the server goes away (issue 13): a restart of chorusd with or without
// --resume-key, a server that refuses every resume (older servers answered a stale token with
// 403, which a browser sees only as 1006), the retry counter, the name in `left`, and the mute
// wish that must survive a rejoin. Every wait has a deadline.

import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { WebSocketServer } from 'ws';
import { startServer, makeClient, until, withTimeout, freePort } from './helpers.mjs';

const clients = [];
const servers = [];
const client = (server, opts) => {
  const c = makeClient(server, opts);
  clients.push(c);
  return c;
};
let roomSeq = 0;
const freshRoom = () => `rec${process.pid}-${++roomSeq}`;

after(async () => {
  for (const c of clients) if (c.state !== 'closed') c.close();
  for (const s of servers) await s.stop();
});

async function serve(args, opts) {
  const s = await startServer(args, opts);
  servers.push(s);
  return s;
}

const open = (c) => until(c, ['state'], () => c.connected, 10000, `${c.user} back in the room`);

describe('restart of chorusd', { timeout: 60000 }, () => {
  for (const key of [[], ['--resume-key', 'k-restart']]) {
    const label = key.length ? 'with --resume-key' : 'without --resume-key';
    test(`kill -9 and a restart ${label}: both clients rejoin and talk within 10 s`, async () => {
      const first = await serve(key);
      const room = freshRoom();
      const a = client(first, { room, name: 'Alice' });
      const b = client(first, { room, name: 'Bob' });
      await a.connect();
      await b.connect();
      await first.kill();
      await until(a, ['state'], () => a.state === 'reconnecting', 5000, 'a reconnecting');
      const second = await serve(key, { port: first.port });
      await Promise.all([open(a), open(b)]);
      // Nobody is held by the new process: each comes back as a new member, told of the gap.
      assert.equal(a.state, 'open'); // not 'resumed': the new process held nobody
      await until(a, ['joined', 'welcome'], () => a.members.has(b.member), 5000, 'a sees b');
      await until(b, ['joined', 'welcome'], () => b.members.has(a.member), 5000, 'b sees a');
      const heard = b.once('audio', (ev) => ev.from === a.member, 5000);
      const got = b.once('chat', (m) => m.text === 'back', 5000);
      a.chat('back');
      a.sendAudio(new Uint8Array([1, 2, 3]));
      await got;
      await heard;
      assert.equal(second.port, first.port);
    });
  }

  test('a mute survives a restart: client and server agree after the rejoin', async () => {
    const first = await serve(['--resume-key', 'k-mute']);
    const room = freshRoom();
    const a = client(first, { room, name: 'Muted Alice' });
    const b = client(first, { room, name: 'Bob' });
    await a.connect();
    await b.connect();
    a.mute(true);
    await until(b, ['muted'], () => b.members.get(a.member)?.muted, 5000, 'b sees a muted');
    await first.kill();
    await serve(['--resume-key', 'k-mute'], { port: first.port });
    await Promise.all([open(a), open(b)]);
    assert.equal(a.muted, true, 'the client still says muted');
    await until(b, ['joined', 'muted', 'welcome'], () => b.members.get(a.member)?.muted === true,
      5000, 'b sees the rejoined a muted (the server has it muted)');
    const refused = a.once('error', (e) => e.code === 'forbidden', 5000);
    a.sendAudio(new Uint8Array([1, 2, 3]));
    await refused; // the server drops a's audio: it is muted there too
  });

  test('a client made with muted:true joins muted', async () => {
    const s = await serve([]);
    const room = freshRoom();
    const b = client(s, { room, name: 'Bob' });
    await b.connect();
    const a = client(s, { room, name: 'Quiet', muted: true });
    await a.connect();
    assert.equal(a.muted, true);
    await until(b, ['joined', 'muted'], () => b.members.get(a.member)?.muted === true, 5000,
      'b sees a muted');
  });
});

// A stand-in for an older server on a fixed port: refuses every upgrade that carries a resume
// token (by dropping the socket, as a browser sees a refusal, or with HTTP 403 as Node sees it),
// and welcomes any other join.
async function refusingServer(how) {
  const port = await freePort();
  const urls = [];
  const wss = new WebSocketServer({ noServer: true });
  const srv = http.createServer((req, res) => res.writeHead(426).end());
  srv.on('upgrade', (req, socket, head) => {
    urls.push(req.url);
    if (req.url.includes('resume=')) {
      if (how === 'drop') socket.destroy();
      else socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => ws.send(JSON.stringify({
      type: 'welcome', room: 'r', member: 100 + urls.length, user: 'u', name: 'U', seq: 1,
      resumed: false, gap: false, resume: `tok${urls.length}`, members: [] })));
  });
  await new Promise((resolve) => srv.listen(port, '127.0.0.1', resolve));
  return {
    url: `ws://127.0.0.1:${port}`,
    urls,
    close: () => {
      for (const ws of wss.clients) ws.terminate();
      srv.closeAllConnections();
      return new Promise((resolve) => srv.close(resolve));
    },
  };
}

describe('a server that refuses the resume token', { timeout: 30000 }, () => {
  for (const how of ['drop', '403']) {
    test(`refused by ${how === 'drop' ? 'a dropped socket (1006)' : 'HTTP 403'}: after two ` +
      'failed resumes the client joins fresh, reporting every try', async () => {
      const fake = await refusingServer(how);
      try {
        const c = client(fake, { room: 'r', name: 'U', resume: { token: 'stale', lastSeq: 9 } });
        const tries = [];
        c.on('state', (ev) => ev.state === 'reconnecting' && tries.push(ev.attempt));
        await withTimeout(c.connect(), 10000, 'a fresh join after the refused resumes');
        assert.equal(c.state, 'open');
        const resumes = fake.urls.filter((u) => u.includes('resume='));
        assert.equal(resumes.length, 2, fake.urls.join('\n'));
        assert.ok(!fake.urls.at(-1).includes('resume='), 'the last try joins without a token');
        assert.deepEqual(tries, [1, 2], 'each reconnect attempt is reported with its number');
        c._dropForTest(); // and after a welcome, a drop then refusals: the same way out
        await until(c, ['state'], () => c.state === 'reconnecting', 5000, 'reconnecting');
        await until(c, ['state'], () => c.connected, 10000, 'a fresh join again');
        assert.equal(fake.urls.filter((u) => u.includes('resume=')).length, 4, fake.urls.join());
      } finally {
        await fake.close();
      }
    });
  }
});

describe('left events', { timeout: 30000 }, () => {
  test('a left event names who left, although the member list no longer has them', async () => {
    const s = await serve([]);
    const room = freshRoom();
    const a = client(s, { room, name: 'Alice' });
    const c = client(s, { room, name: '张伟' });
    await a.connect();
    await c.connect();
    await until(a, ['joined'], () => a.members.has(c.member), 5000, 'a sees c');
    const left = a.once('left', (m) => m.member === c.member, 5000);
    c.close();
    const ev = await left;
    assert.equal(ev.name, '张伟');
    assert.equal(a.members.has(c.member), false);
  });
});
