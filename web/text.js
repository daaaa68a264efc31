// Pure helpers of the room page, with no DOM: the limits of the wire contract counted the way the
// server counts them (UTF-8 bytes, not characters), avatar initials that never cut a character
// in half, colours, JWT claims and a connection-quality grade from the page's own counters.

export const NAME_BYTES_MAX = 64; // PROTOCOL.md section 1
export const TEXT_BYTES_MAX = 4096; // PROTOCOL.md section 3
export const ROOM_RE = /^[A-Za-z0-9_.-]{1,64}$/;

const encoder = new TextEncoder();
export const utf8Bytes = (s) => encoder.encode(String(s)).length;

// Why a display name would be refused by the server, or '' when it is fine.
export function nameProblem(name) {
  const bytes = utf8Bytes(name);
  if (bytes > NAME_BYTES_MAX) {
    return `Your name is ${bytes} bytes long; the limit is ${NAME_BYTES_MAX} bytes of UTF-8 ` +
      '(a letter with an accent takes 2, most Chinese, Japanese or Korean characters 3, an ' +
      'emoji 4). Please shorten it.';
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'Your name cannot contain control characters.';
  return '';
}

export function roomProblem(room) {
  if (!room) return 'Please enter a room name.';
  if (utf8Bytes(room) > 64) return 'Room names are at most 64 characters.';
  if (!ROOM_RE.test(room)) {
    return 'Room names use only letters A–Z, digits, dot, dash and underscore (no spaces), ' +
      'e.g. team-standup.';
  }
  return '';
}

export function textProblem(text) {
  const bytes = utf8Bytes(text);
  if (bytes <= TEXT_BYTES_MAX) return '';
  return `Message too long: ${bytes} bytes, the limit is ${TEXT_BYTES_MAX}. Your text is kept; ` +
    'shorten it or send it in parts.';
}

// User-perceived characters (an emoji with modifiers, a flag, a letter with accents are one).
export function graphemes(s) {
  if (typeof Intl !== 'undefined' && Intl.Segmenter) {
    return [...new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(String(s))]
      .map((x) => x.segment);
  }
  return Array.from(String(s));
}

export function initials(name) {
  const words = String(name).trim().split(/\s+/).filter(Boolean);
  if (!words.length) return '?';
  const first = graphemes(words[0]);
  const picked = words.length > 1 ? first[0] + graphemes(words[words.length - 1])[0]
    : first.slice(0, 2).join('');
  return picked.toUpperCase();
}

export function hue(s) {
  let h = 0;
  for (const ch of String(s)) h = (h * 31 + ch.codePointAt(0)) % 360;
  return h;
}

export function decodeJwt(jwt) {
  try {
    const part = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(part + '='.repeat((4 - (part.length % 4)) % 4));
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))));
  } catch {
    return null;
  }
}

// What is wrong with a token before trying it, or ''.
export function tokenProblem(claims, nowMs = Date.now()) {
  if (!claims) return 'The link’s token cannot be read. Ask for a new invite link.';
  if (typeof claims.exp === 'number' && claims.exp * 1000 < nowMs) {
    return `This invite link expired on ${new Date(claims.exp * 1000).toLocaleString()}. ` +
      'Ask for a new one.';
  }
  return '';
}

// Grades the connection from RTT (ms), audio loss (0..1) and jitter (ms).
export function quality({ rtt, loss = 0, jitter = 0 }) {
  const score = Math.max(rtt == null ? 0 : rtt / 150, loss / 0.03, jitter / 30);
  const grade = score < 1 ? 'good' : score < 2.5 ? 'fair' : 'poor';
  const parts = [];
  if (rtt != null) parts.push(`round trip ${rtt < 10 ? rtt.toFixed(1) : Math.round(rtt)} ms`);
  parts.push(`audio loss ${(loss * 100).toFixed(loss < 0.1 ? 1 : 0)}%`);
  parts.push(`jitter ${Math.round(jitter)} ms`);
  const label = { good: 'Good', fair: 'Fair', poor: 'Poor' }[grade];
  return { grade, label, detail: parts.join(', ') };
}
