// The npm package (clients/js) is built from the one client source, web/chorus.js: nothing in git
// is a second copy, and `npm pack` ships exactly web/chorus.js. The runnable example that
// docs/CLIENT.md shows really runs against chorusd.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { startServer, REPO } from './helpers.mjs';

const PKG = path.join(REPO, 'clients/js');
// The files the package ships from web/ (clients/js/build.mjs).
const FILES = ['chorus.js', 'emitter.js', 'room_model.js', 'wire.js'];
let server;

before(async () => {
  server = await startServer();
});

after(async () => {
  assert.equal(await server.stop(), 0);
});

function run(cmd, args, ms = 10000, cwd = undefined) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`${args.join(' ')} still running after ${ms} ms:\n${out}`));
    }, ms);
    p.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

test('npm pack builds the package from web/ (chorus.js and its modules); git holds no copy', async () => {
  const tracked = await run('git', ['-C', REPO, 'ls-files', '--', 'clients/js']);
  assert.equal(tracked.code, 0, tracked.out);
  const files = tracked.out.split('\n').filter(Boolean);
  assert.ok(files.includes('clients/js/build.mjs'), tracked.out);
  assert.ok(!files.some((f) => FILES.some((b) => f.endsWith(`/${b}`))),
    `a committed copy: ${tracked.out}`);
  const pkg = JSON.parse(fs.readFileSync(path.join(PKG, 'package.json'), 'utf8'));
  assert.equal(pkg.exports['.'], './chorus.js');
  assert.equal(pkg.scripts.prepack, 'node build.mjs');

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chorus-pack-'));
  try {
    for (const f of FILES) fs.rmSync(path.join(PKG, f), { force: true }); // pack must build them
    const npm = await run('npm', ['pack', '--silent', '--pack-destination', dir], 60000, PKG);
    assert.equal(npm.code, 0, npm.out);
    const tgz = fs.readdirSync(dir).find((f) => f.endsWith('.tgz'));
    assert.ok(tgz, npm.out);
    const untar = await run('tar', ['-xzf', path.join(dir, tgz), '-C', dir]);
    assert.equal(untar.code, 0, untar.out);
    for (const f of FILES) {
      const shipped = fs.readFileSync(path.join(dir, 'package', f));
      assert.ok(shipped.equals(fs.readFileSync(path.join(REPO, 'web', f))),
        `the packed ${f} is not web/${f}`);
    }
    const mod = await import(pathToFileURL(path.join(dir, 'package/chorus.js')).href);
    assert.equal(typeof mod.ChorusClient, 'function');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the example in docs/CLIENT.md is clients/js/example.mjs and runs', async () => {
  const example = fs.readFileSync(path.join(PKG, 'example.mjs'), 'utf8');
  const doc = fs.readFileSync(path.join(REPO, 'docs/CLIENT.md'), 'utf8');
  assert.ok(doc.includes(example.trim()), 'docs/CLIENT.md must quote example.mjs verbatim');

  // Resolve its two imports to the package and this folder's `ws`, then run it for 0.3 s.
  const ws = pathToFileURL(path.join(REPO, 'tests/web/node_modules/ws/wrapper.mjs')).href;
  const lib = pathToFileURL(path.join(REPO, 'web/chorus.js')).href;
  const src = example.replace("from 'ws'", `from '${ws}'`).replace("from 'chorus-client'",
    `from '${lib}'`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chorus-example-'));
  const file = path.join(dir, 'example.mjs');
  fs.writeFileSync(file, src);
  try {
    const { code, out } = await run(process.execPath, [file, server.url, 'docs-example', '0.3']);
    assert.equal(code, 0, out);
    assert.match(out, /joined docs-example as member \d+; others: 0/);
    assert.match(out, /chat from \d+: hello from node/);
    assert.match(out, /rtt \d+\.\d\d ms/);
    assert.match(out, /state: closed/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
