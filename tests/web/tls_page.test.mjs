// The page over https from chorusd's own TLS listener, in headless Chromium. The browser reaches
// the server by a name that is not loopback (chorus.test, mapped to 127.0.0.1 by a host rule), so
// only https makes the page a secure context: Chromium already treats http on localhost and
// 127.0.0.1 as secure, which would hide a broken TLS path. The browser trusts the test server's
// key alone (--ignore-certificate-errors-spki-list, not a blanket ignore). Two pages join one
// room over https/wss and page A's fake microphone is decoded and heard on page B; over plain
// http on the same name the page is not secure and tells the user that voice needs https.

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { WAIT, closePages, joinThroughUi, launch, openPage, row, shot, stats } from './browser.mjs';
import { WEB_DIR, makeTestPki, startTlsServer } from './helpers.mjs';

const HOST = 'chorus.test';
let pki;
let server;
let browser;
const errors = [];

before(async () => {
  pki = makeTestPki();
  server = await startTlsServer(pki, ['--web', WEB_DIR]);
  browser = await launch([`--host-resolver-rules=MAP ${HOST} 127.0.0.1`,
    `--ignore-certificate-errors-spki-list=${pki.spki}`]);
});

afterEach(closePages);

after(async () => {
  await browser?.close();
  if (server) assert.equal(await server.stop(), 0, `chorusd stderr:\n${server.stderr()}`);
  pki?.remove();
});

test('two pages over https: a secure context, the mic works and the other page hears it',
  { timeout: 90000 }, async (t) => {
    const base = `https://${HOST}:${server.tlsPort}`;
    const room = `tls-e2e-${process.pid}`;
    const sockets = [];
    const a = await openPage(browser, 'A', { errors });
    const b = await openPage(browser, 'B', { errors });
    for (const p of [a, b]) p.on('websocket', (ws) => sockets.push(ws.url()));
    const idA = await joinThroughUi(a, base, room, 'Alice over TLS');
    const idB = await joinThroughUi(b, base, room, 'Bob over TLS');
    assert.ok(idA > 0 && idB > 0 && idA !== idB);
    for (const p of [a, b]) {
      assert.equal(await p.evaluate(() => window.isSecureContext), true, `${p.label} secure`);
      assert.equal(await p.isHidden('#codec-warning'), true, `${p.label}: no codec warning`);
    }
    assert.ok(sockets.length >= 2, sockets.join('\n')); // one per join (more if one retried)
    for (const url of sockets) assert.ok(url.startsWith(`wss://${HOST}:${server.tlsPort}/`), url);

    // A's fake microphone -> Opus -> wss -> chorusd -> wss -> B's decoder and mixer.
    await a.waitForFunction(() => window.chorusStats.framesSent >= 25, null, WAIT);
    await b.waitForFunction((id) => (window.chorusStats.framesDecoded[id] || 0) >= 50, idA, WAIT);
    await b.waitForFunction(() => window.chorusStats.outputRmsMax > 0.005, null, WAIT);
    await b.waitForSelector(`${row(idA)}.speaking`, WAIT);
    const sa = await stats(a);
    const sb = await stats(b);
    assert.equal(sa.encodeErrors, 0);
    assert.equal(sb.decodeErrors, 0);
    assert.equal(sb.framesBad, 0);
    t.diagnostic(`over TLS: A sent ${sa.framesSent} Opus frames; B received ` +
      `${sb.framesReceived}, decoded ${sb.framesDecoded[idA]}, output RMS max ` +
      `${sb.outputRmsMax.toFixed(3)}`);

    // Chat rides the same wss connection.
    await a.fill('#chat-input', 'encrypted hello');
    await a.press('#chat-input', 'Enter');
    await b.waitForSelector('#chat-log li.chat:has-text("encrypted hello")', WAIT);
    await shot(b, 'tls-b');
    assert.deepEqual(errors, []);
  });

test('over plain http on the same name the page is not secure and says voice needs https',
  async () => {
    const page = await openPage(browser, 'plain', { errors });
    await page.goto(`http://${HOST}:${server.port}/?room=plain`);
    assert.equal(await page.evaluate(() => window.isSecureContext), false);
    assert.equal(await page.evaluate(() => typeof navigator.mediaDevices), 'undefined');
    await page.waitForSelector('#codec-warning:not([hidden])', WAIT);
    assert.match(await page.textContent('#codec-warning'), /over https/);
    assert.deepEqual(errors, []);
  });
