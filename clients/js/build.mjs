// Builds this package's chorus.js from the one client source, web/chorus.js (the file chorusd
// serves to browsers). Run by `npm pack`/`npm publish` (prepack), `npm install` in this folder
// (prepare) and `make client-js`; the built file is ignored by git, so there is no copy to edit.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

const src = fileURLToPath(new URL('../../web/chorus.js', import.meta.url));
const dst = fileURLToPath(new URL('./chorus.js', import.meta.url));
if (!fs.existsSync(src)) {
  console.error(`cannot build chorus-client: ${src} is missing (build from a Chorus checkout)`);
  process.exit(1);
}
const want = fs.readFileSync(src);
if (!fs.existsSync(dst) || !want.equals(fs.readFileSync(dst))) fs.writeFileSync(dst, want);
