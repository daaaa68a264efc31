// Copies the canonical client (web/chorus.js, served to browsers by chorusd) into this package.
// `node sync.mjs --check` exits 1 when the copy differs, so tests catch a forgotten sync.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

const src = fileURLToPath(new URL('../../web/chorus.js', import.meta.url));
const dst = fileURLToPath(new URL('./chorus.js', import.meta.url));
const want = fs.readFileSync(src);
const have = fs.existsSync(dst) ? fs.readFileSync(dst) : null;
if (process.argv.includes('--check')) {
  if (!have || !want.equals(have)) {
    console.error('clients/js/chorus.js differs from web/chorus.js: run node clients/js/sync.mjs');
    process.exit(1);
  }
} else if (!have || !want.equals(have)) {
  fs.writeFileSync(dst, want);
  console.log('clients/js/chorus.js updated from web/chorus.js');
}
