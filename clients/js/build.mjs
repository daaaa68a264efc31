// Builds this package's modules (chorus.js and what it imports) from the one client source,
// web/ (the files chorusd serves to browsers). Run by `npm pack`/`npm publish` (prepack),
// `npm install` in this folder (prepare) and `make client-js`; the built files are ignored by
// git, so there is no copy to edit.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

const FILES = ['chorus.js', 'emitter.js', 'room_model.js', 'wire.js'];
for (const file of FILES) {
  const src = fileURLToPath(new URL(`../../web/${file}`, import.meta.url));
  const dst = fileURLToPath(new URL(`./${file}`, import.meta.url));
  if (!fs.existsSync(src)) {
    console.error(`cannot build chorus-client: ${src} is missing (build from a Chorus checkout)`);
    process.exit(1);
  }
  const want = fs.readFileSync(src);
  if (!fs.existsSync(dst) || !want.equals(fs.readFileSync(dst))) fs.writeFileSync(dst, want);
}
