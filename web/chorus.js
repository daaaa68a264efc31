// Chorus client library: one ChorusClient = one member of one room over the chorus.v1 WebSocket
// protocol (docs/PROTOCOL.md). Plain ES modules with no dependencies, so the same files run in
// the browser page and in Node (pass a WebSocket constructor such as the `ws` package's).
// This file is the connection: joining, the seq rules, reconnect with resume, sending. The room
// it keeps (members, mic seats, hands, speaking) is room_model.js; the wire's byte and URL
// formats are wire.js; events are emitter.js.

import { Emitter } from './emitter.js';
import { RoomModel } from './room_model.js';
import { CLOSE_REASONS, ChorusError, FATAL_HTTP, ID_RE, OP_AUDIO, OP_LEVEL_AUDIO,
  OP_WHISPER_AUDIO, PROTOCOL, RESUMABLE_CLOSE, audioFrame, now, parseAudio, roomUrl }
  from './wire.js';

export { RoomModel, levelFromRms } from './room_model.js';
export { ChorusError, OP_AUDIO, OP_LEVEL_AUDIO, OP_WHISPER_AUDIO, PROTOCOL, makeUserId }
  from './wire.js';

export class ChorusClient extends Emitter {
  // options: url (ws[s]://host[:port], default: the page's origin), room, and either
  // user (+ name) in dev mode or token; WebSocket (constructor, default globalThis.WebSocket);
  // reconnect: { baseMs, maxMs, maxAttempts } or false; pingIntervalMs (0 = off);
  // audioBufferMax: drop outgoing audio while ws.bufferedAmount exceeds this (bytes);
  // connectTimeoutMs: give up on one connection attempt without a welcome after this long;
  // muted: join self-muted (the wish is kept and re-sent after every fresh join);
  // resume: {token, lastSeq} from an earlier client (e.g. before a page reload) to resume with;
  // admin: ask to be a host in dev mode (&admin=1; a server with auth on ignores it).
  constructor(options = {}) {
    super();
    if (!ID_RE.test(options.room || '')) throw new ChorusError('bad_request', 'invalid room id');
    if (!options.token && !ID_RE.test(options.user || ''))
      throw new ChorusError('bad_request', 'invalid user id (1-64 of [A-Za-z0-9_.-])');
    this.options = options;
    this.room = options.room;
    this.WebSocket = options.WebSocket || globalThis.WebSocket;
    if (!this.WebSocket) throw new ChorusError('unsupported', 'no WebSocket implementation');
    const rc = options.reconnect === false ? { maxAttempts: 0 } : options.reconnect || {};
    this.reconnectPolicy = {
      baseMs: rc.baseMs ?? 250,
      maxMs: rc.maxMs ?? 8000,
      maxAttempts: rc.maxAttempts ?? 40,
    };
    this.audioBufferMax = options.audioBufferMax ?? 256 * 1024;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10000;

    this.state = 'idle'; // idle | connecting | open | reconnecting | resumed | closed
    this.member = 0; // our member id (0 until welcomed)
    this.user = options.user || '';
    this.name = options.name || '';
    this.lastSeq = 0; // seq of the last room event applied
    this.resumeToken = '';
    this.model = new RoomModel(); // members, seats, hands, speaking (also as getters below)
    this.admin = false; // we are a host (welcome.admin)
    this.seatsSupported = false; // the server speaks the seats addition (welcome.seats, 0x03)
    this.muted = false; // our own mute state, as the server has it
    this.adminMuted = false; // muted by someone else (an admin): only an admin can unmute
    this._wantMuted = !!options.muted; // what the user asked for; applied after every welcome
    this.rtt = null; // last measured round trip, ms
    this.closeInfo = null; // {code, reason, by} once closed for good
    this.stats = { audioSent: 0, audioDropped: 0, audioReceived: 0, reconnects: 0 };

    this._ws = null;
    this._userClosed = false;
    this._everWelcomed = false;
    this._attempt = 0;
    this._retryTimer = null;
    this._welcomeTimer = null;
    this._pingTimer = null;
    this._pingSeq = 0;
    this._pings = new Map(); // t -> {sent, resolve, reject, timer}
    this._replayUntil = 0; // after a resume: events with seq <= this are replays
    this._connectWaiter = null;
    this._resumeFails = 0; // resume attempts in a row that got no welcome
    this._socketResumes = false; // the current socket asked to resume
    this._socketWelcomed = false; // the current socket got its welcome
    if (options.resume?.token) {
      this.resumeToken = String(options.resume.token);
      this.lastSeq = Number(options.resume.lastSeq) || 0;
    }
  }

  _setState(state, extra = {}) {
    // Every reconnect attempt is reported (with its number), not only the first.
    if (this.state === state && state !== 'reconnecting') return;
    const prev = this.state;
    this.state = state;
    this._emit('state', { state, prev, ...extra });
  }

  get connected() {
    return this.state === 'open' || this.state === 'resumed';
  }

  get members() {
    return this.model.members;
  }

  get seats() {
    return this.model.seats;
  }

  get hands() {
    return this.model.hands;
  }

  get speaking() {
    return this.model.speaking;
  }

  seatOf(member = this.member) {
    return this.model.seatOf(member);
  }

  // ---- connection ---------------------------------------------------------------------------

  // Opens the connection; resolves with the first welcome, rejects if it cannot join.
  connect() {
    if (this.state !== 'idle' && this.state !== 'closed')
      return Promise.reject(new ChorusError('busy', `already ${this.state}`));
    this._userClosed = false;
    this._everWelcomed = false;
    this._attempt = 0;
    this.closeInfo = null;
    return new Promise((resolve, reject) => {
      this._connectWaiter = { resolve, reject };
      this._setState('connecting');
      this._open(!!this.resumeToken);
    });
  }

  // Closes for good (no reconnect). The server sends `left` with reason `closed`.
  close(code = 1000, reason = '') {
    this._userClosed = true;
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    const ws = this._ws;
    if (ws && (ws.readyState === 0 || ws.readyState === 1)) {
      try {
        ws.close(code, reason);
      } catch {
        ws.close();
      }
    }
    this._finish({ code, reason: 'user', by: 'client' });
  }

  // The join URL: with the resume token and last seq when `resume` (and a token is held).
  url(resume) {
    return roomUrl(this.options, resume && this.resumeToken
      ? { token: this.resumeToken, lastSeq: this.lastSeq } : null);
  }

  _open(resume) {
    let ws;
    try {
      ws = new this.WebSocket(this.url(resume), PROTOCOL);
    } catch (err) {
      this._fail(new ChorusError('bad_request', String(err && err.message)));
      return;
    }
    ws.binaryType = 'arraybuffer';
    this._ws = ws;
    this._socketResumes = !!(resume && this.resumeToken);
    this._socketWelcomed = false;
    let httpStatus = 0;
    clearTimeout(this._welcomeTimer);
    this._welcomeTimer = setTimeout(() => {
      if (this._ws !== ws) return;
      this._ws = null; // a hung handshake counts as a failed attempt
      try {
        ws.close();
      } catch {
        // already closing
      }
      this._onSocketClosed(1006, 'welcome timeout', 0);
    }, this.connectTimeoutMs);
    ws.onopen = () => {};
    ws.onerror = (ev) => {
      // Node's `ws` reports refusals as "Unexpected server response: 403"; browsers say nothing.
      const text = (ev && (ev.message || ev.error?.message)) || '';
      const m = /Unexpected server response: (\d+)/.exec(text);
      if (m) httpStatus = Number(m[1]);
    };
    ws.onclose = (ev) => {
      if (this._ws !== ws) return;
      this._ws = null;
      this._onSocketClosed(ev.code, ev.reason || '', httpStatus);
    };
    ws.onmessage = (ev) => {
      if (this._ws !== ws) return;
      if (typeof ev.data === 'string') this._onText(ev.data);
      else this._onBinary(ev.data);
    };
  }

  _onSocketClosed(code, reason, httpStatus) {
    clearTimeout(this._welcomeTimer);
    this._stopPings(new ChorusError('closed', 'connection closed'));
    if (this._userClosed) return;
    const kicked = CLOSE_REASONS[code];
    if (kicked) {
      this._finish({ code, reason: kicked, by: 'server' });
      return;
    }
    if (this._socketResumes && !this._socketWelcomed) {
      // A resume that got no welcome. A v1.0.1 server answers a stale token with an ordinary
      // join, but an older one refuses it (a browser sees only 1006): after two such failures
      // the next try joins without the token instead of repeating the same URL forever.
      this._resumeFails += 1;
      if (this._resumeFails >= 2) this.resumeToken = '';
      if (FATAL_HTTP.has(httpStatus)) httpStatus = 0;
      if (!this._everWelcomed && this._attempt < this.reconnectPolicy.maxAttempts) {
        this._scheduleReconnect(code);
        return;
      }
    }
    if (!this._everWelcomed) {
      // The first join failed: report it instead of looping on a refusal.
      const why = httpStatus ? `refused with HTTP ${httpStatus}` : `closed with ${code}`;
      this._fail(new ChorusError(httpStatus ? `http_${httpStatus}` : 'connect_failed',
        `could not join room ${this.room}: ${why}`), code);
      return;
    }
    const retry = RESUMABLE_CLOSE.has(code) && !FATAL_HTTP.has(httpStatus);
    if (!retry || this._attempt >= this.reconnectPolicy.maxAttempts) {
      this._finish({ code, reason: httpStatus ? `http_${httpStatus}` : reason || 'closed',
        by: 'server' });
      return;
    }
    this._scheduleReconnect(code);
  }

  _scheduleReconnect(code) {
    const p = this.reconnectPolicy;
    const ceiling = Math.min(p.maxMs, p.baseMs * 2 ** this._attempt);
    const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2); // jittered
    this._attempt += 1;
    this._setState('reconnecting', { attempt: this._attempt, delayMs: delay, code });
    this._retryTimer = setTimeout(() => {
      this._retryTimer = null;
      if (this._userClosed) return;
      this.stats.reconnects += 1;
      this._open(this._resumeFails < 2);
    }, delay);
  }

  _fail(err, code = 0) {
    const w = this._connectWaiter;
    this._connectWaiter = null;
    this._finish({ code, reason: err.code, by: 'client' });
    if (w) w.reject(err);
  }

  _finish(info) {
    this._stopPings(new ChorusError('closed', 'connection closed'));
    clearTimeout(this._retryTimer);
    clearTimeout(this._welcomeTimer);
    this._retryTimer = null;
    if (this.state === 'closed') return;
    this.closeInfo = info;
    this._setState('closed', info);
    this._emit('close', info);
    const w = this._connectWaiter;
    this._connectWaiter = null;
    if (w) w.reject(new ChorusError(info.reason || 'closed', `closed (${info.code})`));
  }

  // ---- inbound ------------------------------------------------------------------------------

  _onText(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      this._emit('protocol_error', { text });
      return;
    }
    if (!msg || typeof msg.type !== 'string') return;
    if (msg.type === 'welcome') {
      this._onWelcome(msg);
      return;
    }
    if (typeof msg.seq === 'number' && !this._acceptSeq(msg)) return;
    const applied = this.model.apply(msg);
    switch (msg.type) {
      case 'left':
        // Handlers get the name of who left: it is no longer in `members` when they run.
        if (applied?.name !== undefined && msg.name === undefined) msg.name = applied.name;
        break;
      case 'muted': {
        if (msg.member === this.member) {
          this.muted = msg.muted;
          this.adminMuted = msg.muted && msg.by !== this.member;
          if (msg.by === this.member) this._wantMuted = msg.muted;
        }
        break;
      }
      case 'pong':
        this._onPong(msg);
        return;
      case 'error':
        this._emit('error', msg);
        return;
      default:
        break;
    }
    this._emit(msg.type, msg);
  }

  // Applies the seq rules: duplicates are ignored, a jump is reported as a gap.
  _acceptSeq(msg) {
    if (msg.seq <= this.lastSeq) return false;
    if (msg.seq !== this.lastSeq + 1)
      this._emit('gap', { reason: 'seq', from: this.lastSeq + 1, to: msg.seq - 1 });
    this.lastSeq = msg.seq;
    if (msg.seq <= this._replayUntil) msg.replayed = true;
    return true;
  }

  _onWelcome(w) {
    clearTimeout(this._welcomeTimer);
    const reconnect = this._everWelcomed;
    // A first connect may resume too (options.resume, e.g. after a page reload).
    const resumed = w.resumed === true && (!reconnect || w.member === this.member);
    this.member = w.member;
    this.user = w.user;
    this.name = w.name;
    this.admin = w.admin === true;
    this.seatsSupported = w.seats !== undefined && w.seats !== null;
    this.resumeToken = w.resume || '';
    this._everWelcomed = true;
    this._socketWelcomed = true;
    this._resumeFails = 0;
    this._attempt = 0;
    // Resumed without a gap, the missed events (lastSeq, w.seq] follow and update the room as
    // they arrive; a live client keeps its own lists until then (a reloaded page has none).
    this.model.welcome(w, resumed && !w.gap && reconnect);
    if (resumed && !w.gap) {
      this._replayUntil = w.seq;
    } else {
      this._replayUntil = 0;
      this.lastSeq = w.seq;
    }
    if (!resumed) {
      this.muted = false; // a new member starts unmuted on the server
      this.adminMuted = false;
    }
    // The page and the server agree after every (re)join: the user's mute wish is re-sent.
    if (this._wantMuted !== this.muted && !(this.adminMuted && !this._wantMuted)) {
      this._ws.send(JSON.stringify({ type: 'mute', muted: this._wantMuted }));
      this.muted = this._wantMuted;
    }
    this._emit('welcome', w);
    if (reconnect && (!resumed || w.gap))
      this._emit('gap', { reason: resumed ? 'history' : 'rejoined', seq: w.seq });
    this._setState(resumed ? 'resumed' : 'open', { resumed, gap: !!w.gap });
    this._startPings();
    const waiter = this._connectWaiter;
    this._connectWaiter = null;
    if (waiter) waiter.resolve(w);
  }

  _onBinary(data) {
    const audio = parseAudio(data);
    if (!audio) return;
    this.stats.audioReceived += 1;
    this._emit('audio', audio);
  }

  // ---- outbound -----------------------------------------------------------------------------

  _sendJson(obj) {
    const ws = this._ws;
    if (!ws || ws.readyState !== 1 || !this.connected) return false;
    ws.send(JSON.stringify(obj));
    return true;
  }

  // Sends one room audio frame: 0x01, or 0x03 with `level` (0 loudest .. 127 silence, RFC 6464
  // -dBov; see levelFromRms) so the server can tell who is speaking. Returns false when dropped
  // (not open, or backlog).
  sendAudio(payload, level = null) {
    if (level === null || level === undefined) return this._sendBinary(OP_AUDIO, 0, payload);
    const clamped = Math.min(127, Math.max(0, Math.round(Number(level)) || 0));
    return this._sendBinary(OP_LEVEL_AUDIO, clamped, payload);
  }

  // Sends one audio frame to a single member (0x02 + u32 BE target).
  sendWhisperAudio(target, payload) {
    return this._sendBinary(OP_WHISPER_AUDIO, target, payload);
  }

  _sendBinary(op, arg, payload) {
    const ws = this._ws;
    if (!ws || ws.readyState !== 1 || !this.connected || ws.bufferedAmount > this.audioBufferMax) {
      this.stats.audioDropped += 1;
      return false;
    }
    ws.send(audioFrame(op, arg, payload));
    this.stats.audioSent += 1;
    return true;
  }

  chat(text) {
    return this._sendJson({ type: 'chat', text: String(text) });
  }

  whisper(to, text) {
    return this._sendJson({ type: 'whisper', to, text: String(text) });
  }

  // Mutes or unmutes ourselves (after an admin mute, unmuting gets a `forbidden` error). While
  // not connected the wish is kept and sent after the next welcome; returns false then.
  mute(muted = true) {
    this._wantMuted = !!muted;
    return this._sendJson({ type: 'mute', muted: !!muted });
  }

  // Admin: mutes or unmutes another member (sticky).
  muteMember(member, muted = true) {
    return this._sendJson({ type: 'mute', member, muted: !!muted });
  }

  // Admin: removes a member (it is closed with 4001).
  kick(member) {
    return this._sendJson({ type: 'kick', member });
  }

  // ---- mic seats and hands (each answered by a `seats` or `hand` event, or an `error`) -------

  // Admin: the number of seats, 0..32 (0 turns seat mode off; sitters on removed seats stand).
  setSeatCount(count) {
    return this._sendJson({ type: 'seats', count });
  }

  // Admin: lock or mute a seat; `change` holds `locked` and/or `muted` (booleans).
  setSeat(seat, change) {
    const msg = { type: 'seat', seat };
    if (change?.locked !== undefined) msg.locked = !!change.locked;
    if (change?.muted !== undefined) msg.muted = !!change.muted;
    return this._sendJson(msg);
  }

  lockSeat(seat, locked = true) {
    return this.setSeat(seat, { locked });
  }

  muteSeat(seat, muted = true) {
    return this.setSeat(seat, { muted });
  }

  // Sits on `seat` (moving from one's own), or on the lowest free seat when it is omitted.
  takeSeat(seat) {
    return this._sendJson(seat === undefined || seat === null ? { type: 'take_seat' }
      : { type: 'take_seat', seat });
  }

  leaveSeat() {
    return this._sendJson({ type: 'leave_seat' });
  }

  // Admin: puts `member` on `seat` (empty, may be locked), or stands it up with seat null.
  moveMember(member, seat) {
    return this._sendJson({ type: 'move', member, seat: seat ?? null });
  }

  standUp(member) {
    return this.moveMember(member, null);
  }

  raiseHand(raised = true) {
    return this._sendJson({ type: 'hand', raised: !!raised });
  }

  // Admin: lowers another member's hand.
  lowerHand(member) {
    return this._sendJson({ type: 'hand', member, raised: false });
  }

  // Sends any message object as-is (for tools and tests).
  sendRaw(obj) {
    const ws = this._ws;
    if (!ws || ws.readyState !== 1) return false;
    ws.send(typeof obj === 'string' || obj instanceof Uint8Array ? obj : JSON.stringify(obj));
    return true;
  }

  // Measures the application-level round trip; resolves with milliseconds.
  ping(timeoutMs = 5000) {
    return new Promise((resolve, reject) => {
      const t = ++this._pingSeq;
      if (!this._sendJson({ type: 'ping', t })) {
        reject(new ChorusError('closed', 'not connected'));
        return;
      }
      const timer = setTimeout(() => {
        this._pings.delete(t);
        reject(new ChorusError('timeout', 'no pong'));
      }, timeoutMs);
      this._pings.set(t, { sent: now(), resolve, reject, timer });
    });
  }

  _onPong(msg) {
    const p = this._pings.get(msg.t);
    if (!p) {
      this._emit('pong', { t: msg.t, rtt: null });
      return;
    }
    this._pings.delete(msg.t);
    clearTimeout(p.timer);
    this.rtt = now() - p.sent;
    this._emit('pong', { t: msg.t, rtt: this.rtt });
    this._emit('rtt', { rtt: this.rtt });
    p.resolve(this.rtt);
  }

  _startPings() {
    clearInterval(this._pingTimer);
    const every = this.options.pingIntervalMs || 0;
    if (every <= 0) return;
    this.ping().catch(() => {});
    this._pingTimer = setInterval(() => this.ping().catch(() => {}), every);
  }

  _stopPings(err) {
    clearInterval(this._pingTimer);
    this._pingTimer = null;
    for (const p of this._pings.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this._pings.clear();
  }

  // For tests: drops the TCP connection without a close frame, as a network failure would.
  _dropForTest() {
    const ws = this._ws;
    if (ws && ws._socket) ws._socket.destroy();
    else if (ws) ws.close(4000, 'test drop');
  }
}
