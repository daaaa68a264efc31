// The chorus.v1 wire as the JS client writes and reads it (docs/PROTOCOL.md): the constants, the
// join URL, and the binary audio frames. Pure functions over bytes and strings, no socket.

export const PROTOCOL = 'chorus.v1';
export const OP_AUDIO = 0x01;
export const OP_WHISPER_AUDIO = 0x02;
export const OP_LEVEL_AUDIO = 0x03; // room audio with its RFC 6464 level (seats addition)

export const ID_RE = /^[A-Za-z0-9_.-]{1,64}$/;
// Close codes after which the client reconnects and resumes (PROTOCOL.md §6, §7).
export const RESUMABLE_CLOSE = new Set([1001, 1006, 1011, 1013]);
export const CLOSE_REASONS = { 4001: 'kicked', 4009: 'replaced' };
// HTTP refusals that retrying cannot fix (bad request, auth, forbidden, unknown path).
export const FATAL_HTTP = new Set([400, 401, 403, 404, 426]);

export const now = () =>
  typeof performance !== 'undefined' && performance.now ? performance.now() : Date.now();

export class ChorusError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

// Derives a dev-mode user id from a display name: a slug plus a random suffix.
export function makeUserId(name) {
  const slug = String(name || 'guest')
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40) || 'guest';
  const rand = Math.random().toString(36).slice(2, 8);
  return `${slug}-${rand}`;
}

// The join URL for the client's options (url, room, token or user/name/admin), with
// `resume` = {token, lastSeq} when it asks to resume.
export function roomUrl(options, resume = null) {
  let base = options.url;
  if (!base) {
    if (typeof location === 'undefined') throw new ChorusError('bad_request', 'url required');
    base = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host;
  }
  base = base.replace(/\/+$/, '');
  const q = [];
  const add = (k, v) => q.push(`${k}=${encodeURIComponent(v)}`);
  if (options.token) add('token', options.token);
  else {
    add('user', options.user);
    if (options.name) add('name', options.name);
    if (options.admin) add('admin', '1');
  }
  if (resume) {
    add('resume', resume.token);
    add('last_seq', String(resume.lastSeq));
  }
  return `${base}/v1/rooms/${options.room}?${q.join('&')}`;
}

// One outgoing audio frame: `op`, then the whisper target (u32 BE) for 0x02 or the level byte
// for 0x03 (`arg`), then the payload (Uint8Array or ArrayBuffer).
export function audioFrame(op, arg, payload) {
  const body = payload instanceof Uint8Array ? payload : new Uint8Array(payload);
  const head = op === OP_WHISPER_AUDIO ? 5 : op === OP_LEVEL_AUDIO ? 2 : 1;
  const frame = new Uint8Array(head + body.length);
  frame[0] = op;
  if (op === OP_LEVEL_AUDIO) frame[1] = arg;
  if (op === OP_WHISPER_AUDIO) {
    frame[1] = (arg >>> 24) & 0xff;
    frame[2] = (arg >>> 16) & 0xff;
    frame[3] = (arg >>> 8) & 0xff;
    frame[4] = arg & 0xff;
  }
  frame.set(body, head);
  return frame;
}

// An incoming audio frame (op, from: u32 BE, payload) as {from, payload, whisper}, or null for
// anything else (too short, an unknown op).
export function parseAudio(data) {
  const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(
    data.buffer, data.byteOffset, data.byteLength);
  if (bytes.length < 5) return null;
  const op = bytes[0];
  if (op !== OP_AUDIO && op !== OP_WHISPER_AUDIO) return null;
  const from = ((bytes[1] << 24) | (bytes[2] << 16) | (bytes[3] << 8) | bytes[4]) >>> 0;
  return { from, payload: bytes.subarray(5), whisper: op === OP_WHISPER_AUDIO };
}
