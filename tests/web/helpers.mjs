// Shared helpers for the web tests: start the real chorusd on a free port and wait for its
// readiness line, stop it with SIGTERM, and make ChorusClients that use the `ws` package.
// Everything waits on events with deadlines; nothing sleeps a fixed time to "let things settle".

import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import WebSocket from 'ws';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, '../..');
export const CHORUSD = process.env.CHORUSD || path.resolve(here, '../../build/chorusd');
// CHORUS_WEB runs the tests against another copy of the page and library (e.g. an older commit's
// web/, to see a regression test fail there); the default is this checkout's web/.
export const WEB_DIR = process.env.CHORUS_WEB ? path.resolve(process.env.CHORUS_WEB)
  : path.join(REPO, 'web');
export const { ChorusClient } = await import(
  pathToFileURL(path.join(WEB_DIR, 'chorus.js')).href);

// Asks the kernel for a free port (chorusd cannot listen on port 0: one listener per thread).
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// Starts chorusd with extra flags; resolves once it prints "chorusd: ready on". `port` restarts a
// server on the port an earlier one used (its clients reconnect there).
export async function startServer(args = [], { readyMs = 10000, port: fixed = 0 } = {}) {
  if (fixed) return spawnServer(fixed, args, readyMs);
  for (let tries = 0; ; tries++) {
    const port = await freePort();
    try {
      return await spawnServer(port, args, readyMs);
    } catch (err) {
      if (tries >= 2 || !/address|bind|in use/i.test(err.message)) throw err;
    }
  }
}

function spawnServer(port, args, readyMs) {
  const argv = ['--listen', `127.0.0.1:${port}`, '--threads', '2', ...args];
  if (process.env.CHORUS_IO) argv.push('--io', process.env.CHORUS_IO); // e.g. epoll
  const proc = spawn(CHORUSD, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let ready = false;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`chorusd not ready within ${readyMs} ms; stderr:\n${stderr}`));
    }, readyMs);
    proc.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${CHORUSD}: ${err.message} (set CHORUSD or run make)`));
    });
    proc.on('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`chorusd exited (${code ?? sig}) before ready; stderr:\n${stderr}`));
    });
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (d) => {
      stderr += d; // chorusd logs to stderr; keep anything on stdout for diagnosis too
      if (stderr.length > 65536) stderr = stderr.slice(-32768);
    });
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (d) => {
      stderr += d;
      if (stderr.length > 65536) stderr = stderr.slice(-32768);
      if (!ready && /chorusd: ready on/.test(stderr)) {
        ready = true;
        clearTimeout(timer);
        proc.removeAllListeners('exit');
        resolve(new Server(proc, port, () => stderr));
      }
    });
  });
}

class Server {
  constructor(proc, port, stderr) {
    this.proc = proc;
    this.port = port;
    this.stderr = stderr;
    this.url = `ws://127.0.0.1:${port}`;
    this.http = `http://127.0.0.1:${port}`;
    this.stopping = false;
    this.exited = new Promise((resolve) => proc.on('exit', (code, sig) => {
      if (!this.stopping) {
        console.error(`chorusd on port ${port} died unexpectedly (${code ?? sig}); stderr:\n` +
          stderr().slice(-4000));
      }
      resolve(code ?? sig);
    }));
  }

  // kill -9, as a crash would; resolves once the process is gone.
  async kill() {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return this.exited;
    this.stopping = true;
    this.proc.kill('SIGKILL');
    return this.exited;
  }

  // SIGTERM, then SIGKILL if it does not exit in time; resolves with the exit code.
  async stop(ms = 5000) {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return this.exited;
    this.stopping = true;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), ms);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}

let userSeq = 0;
// A ChorusClient for the test server using the `ws` package.
export function makeClient(server, opts = {}) {
  userSeq += 1;
  const user = opts.user || `u${process.pid}-${userSeq}`;
  return new ChorusClient({
    url: server.url,
    room: opts.room || 'lobby',
    user: opts.token ? undefined : user,
    name: opts.name,
    WebSocket,
    reconnect: { baseMs: 50, maxMs: 400, maxAttempts: 20 },
    ...opts,
  });
}

// Collects events of the given types from a client, in order.
export function record(client, types) {
  const events = [];
  for (const t of types) client.on(t, (ev) => events.push({ t, ev }));
  return events;
}

// Resolves when `cond()` becomes true, checking after each event of the listed types.
export function until(client, types, cond, ms = 5000, what = 'condition') {
  return new Promise((resolve, reject) => {
    if (cond()) return resolve();
    const offs = [];
    const done = (err) => {
      clearTimeout(timer);
      offs.forEach((f) => f());
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => done(new Error(`timed out after ${ms} ms waiting for ${what}`)),
      ms);
    for (const t of types) offs.push(client.on(t, () => cond() && done()));
  });
}

export function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// A throwaway test CA and a server certificate it signs, made with the openssl CLI in a fresh
// temporary folder (remove() deletes it). The leaf names 127.0.0.1, localhost and chorus.test
// (a name that is not loopback, for the browser's secure-context checks). `spki` is the
// base64 SHA-256 of the leaf's public key, the form Chromium's
// --ignore-certificate-errors-spki-list trusts (that key only, not every certificate).
export function makeTestPki() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chorus-pki-'));
  const at = (f) => path.join(dir, f);
  const openssl = (...args) => execFileSync('openssl', args, { stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', at('ca.key'), '-out', at('ca.pem'), '-days', '2',
    '-subj', '/CN=chorus web test CA');
  openssl('req', ...ec, '-keyout', at('server.key'), '-out', at('server.csr'),
    '-subj', '/CN=chorus web test server');
  fs.writeFileSync(at('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:chorus.test\n');
  openssl('x509', '-req', '-in', at('server.csr'), '-CA', at('ca.pem'), '-CAkey', at('ca.key'),
    '-CAcreateserial', '-days', '2', '-extfile', at('ext.cnf'), '-out', at('server.pem'));
  const leaf = new crypto.X509Certificate(fs.readFileSync(at('server.pem')));
  const spkiDer = leaf.publicKey.export({ type: 'spki', format: 'der' });
  return {
    dir,
    caFile: at('ca.pem'),
    ca: fs.readFileSync(at('ca.pem')),
    cert: at('server.pem'),
    key: at('server.key'),
    spki: crypto.createHash('sha256').update(spkiDer).digest('base64'),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

// startServer with a TLS listener too (`pki` from makeTestPki): the server gains tlsPort,
// wss (wss://127.0.0.1:port) and https. A lost race for either port starts over.
export async function startTlsServer(pki, args = [], opts = {}) {
  for (let tries = 0; ; tries++) {
    const tlsPort = await freePort();
    try {
      const server = await startServer(['--tls-listen', `127.0.0.1:${tlsPort}`, '--tls-cert',
        pki.cert, '--tls-key', pki.key, ...args], opts);
      server.tlsPort = tlsPort;
      server.wss = `wss://127.0.0.1:${tlsPort}`;
      server.https = `https://127.0.0.1:${tlsPort}`;
      return server;
    } catch (err) {
      if (tries >= 2 || !/address|bind|in use/i.test(err.message)) throw err;
    }
  }
}

// The `ws` package's WebSocket that trusts `ca` (PEM) for this client only: certificate and
// host name are verified as a browser would, against the test CA instead of the system's.
export function webSocketTrusting(ca) {
  return class extends WebSocket {
    constructor(url, protocols, options = {}) {
      super(url, protocols, { ...options, ca });
    }
  };
}
