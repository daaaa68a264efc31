// The Chorus room page: the join form, joining and leaving, and the ChorusClient's events wired
// to the room view (room.js) and the audio controls (controls.js). A page reload resumes the
// same membership (sessionStorage). Counters for tests and debugging are on window.chorusStats.

import { ChorusClient, makeUserId } from './chorus.js';
import { webCodecsMissing } from './audio.js';
import { Controls } from './controls.js';
import { RoomView, announce, logSystem, notice } from './room.js';
import { SeatView } from './seats.js';
import { decodeJwt, nameProblem, quality, roomProblem, textProblem, tokenProblem } from './text.js';

const $ = (id) => document.getElementById(id);
const PING_EVERY_MS = 3000;
const SESSION_KEY = 'chorus.session';
const LEFT_WAIT_MS = 3000; // a "left" (closed) waits this long for the same user's rejoin

const stats = (window.chorusStats = {
  state: 'idle', member: 0, rtt: null, framesCaptured: 0, framesEncoded: 0, framesGated: 0,
  framesSent: 0, bytesSent: 0, framesReceived: 0, framesBad: 0, framesLate: 0, framesLost: 0,
  framesDecoded: {}, framesDecodedTotal: 0, encodeErrors: 0, decodeErrors: 0, micRms: 0,
  outputRms: 0, outputRmsMax: 0, outputPeak: 0, voices: {}, jitterMs: 0, quality: null,
  whisperFramesReceived: 0,
});

const params = new URLSearchParams(location.search);
// A token in the address bar is moved to this tab's storage and out of sight (and history).
if (params.get('token')) sessionStorage.setItem('chorus.token', params.get('token'));
const token = params.get('token') || sessionStorage.getItem('chorus.token') || '';
const claims = token ? decodeJwt(token) : null;

let client = null;
let speakingTimer = null;
let qualityTimer = null;
let pendingChat = false; // a message typed offline waits in the box for the connection
const leaving = new Map(); // user -> timer of a "left" not yet shown
const room = new RoomView({ isAdmin: !!(claims && claims.admin === true),
  onWhisperAudio: (id) => (id ? controls.talkStart(id) : controls.talkEnd()) });
room.canSpeak = !(claims && claims.speak === false);
const controls = new Controls({ client: () => client, stats, canSpeak: room.canSpeak });
const seats = new SeatView({ room, canSpeak: () => room.canSpeak });
room.onInvite = (id) => seats.invite(id);

// ---- join form ------------------------------------------------------------------------------

function initJoinForm() {
  const roomIn = $('room');
  const name = $('name');
  roomIn.value = params.get('room') || localStorage.getItem('chorus.room') || 'lobby';
  name.value = params.get('name') || localStorage.getItem('chorus.name') || '';
  if (claims) {
    if (claims.room && claims.room !== '*') {
      roomIn.value = claims.room;
      roomIn.readOnly = true;
    }
    name.value = claims.name || claims.sub || '';
    name.readOnly = true;
  }
  const missing = webCodecsMissing();
  if (missing.length) {
    const w = $('codec-warning');
    w.hidden = false;
    w.textContent = `This browser cannot encode or decode Opus audio here (missing: ` +
      `${missing.join(', ')}). You can still join and chat. For voice, use a current ` +
      `Chrome, Edge, Firefox or Safari over https or on localhost.`;
    $('mic-test-btn').closest('.mic-test').hidden = true;
  }
  if (!room.canSpeak) $('mic-test-btn').closest('.mic-test').hidden = true;
  $('join-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    join(roomIn.value.trim(), name.value.trim());
  });
  if (!name.value) name.focus();
}

// One user id per browser and name: a reload or a second tab with the same name takes over the
// old connection instead of showing the same person twice.
function userIdFor(name) {
  const key = `chorus.user.${name}`;
  let id = localStorage.getItem(key);
  if (!id) localStorage.setItem(key, (id = makeUserId(name)));
  return id;
}

function joinProblem(roomId, name) {
  if (token) return roomProblem(roomId) || tokenProblem(claims);
  return roomProblem(roomId) || (name ? nameProblem(name) : 'Please enter your name.');
}

// `seat`: the seat this tab sat on before a reload (-1: none), taken again if still free.
async function join(roomId, name, resume = null, seat = -1) {
  const err = $('join-error');
  err.textContent = joinProblem(roomId, name);
  if (err.textContent) return;
  localStorage.setItem('chorus.room', roomId);
  if (!token) localStorage.setItem('chorus.name', name);
  $('join-btn').disabled = true;
  $('conn-text').textContent = 'Joining…';

  const opts = { room: roomId, pingIntervalMs: PING_EVERY_MS, resume,
    muted: room.canSpeak && controls.wantMuted() };
  if (token) opts.token = token;
  else Object.assign(opts, { user: userIdFor(name), name, admin: params.get('admin') === '1' });
  const c = (client = new ChorusClient(opts));
  room.client = c;
  wireClient(c);
  const voice = webCodecsMissing().length === 0;
  if (voice) {
    try {
      room.engine = await controls.ensureEngine(); // inside the click: audio may start
    } catch (e) {
      console.error(e);
    }
  }
  try {
    await c.connect();
  } catch (e) {
    if (client !== c) return;
    err.textContent = await explainRefusal(roomId, c, e);
    $('join-btn').disabled = false;
    $('conn-text').textContent = 'Not connected';
    client = null;
    await teardown();
    return;
  }
  showRoom(roomId);
  retakeSeat(c, seat);
  if (controls.engine && !controls.engine.micOn) controls.startMic();
  else controls.mic = controls.engine ? controls.mic : 'unsupported';
  controls.render();
}

// A browser is not told why an upgrade was refused. What the page could check (name, room,
// token expiry) it checked before; now it asks the same URL over plain HTTP, then /healthz.
async function explainRefusal(roomId, c, e) {
  const http = c.url(false).replace(/^ws/, 'http');
  try {
    const res = await fetch(http, { cache: 'no-store' });
    const body = await res.json().catch(() => null);
    if (body?.error && body.error !== 'upgrade_required') {
      return `The server refused to let you join “${roomId}”: ${body.message}`;
    }
    return `The server is running but refused to let you join “${roomId}” (${e.message}). ` +
      'The room may be full, or the invite link no longer valid.';
  } catch {
    return `Cannot reach the server at ${location.host}. Is it running? Try again in a moment.`;
  }
}

// ---- client events --------------------------------------------------------------------------

function wireClient(c) {
  c.on('state', (ev) => onState(c, ev));
  c.on('welcome', (w) => {
    stats.member = w.member;
    room.isAdmin = c.admin || !!(claims && claims.admin === true);
    ownSeat = c.seatOf();
    saveSession();
    room.renderMembers();
    seats.render();
    controls.render();
  });
  c.on('seats', (ev) => onSeats(c, ev));
  c.on('hand', (ev) => {
    if (ev.raised && !ev.replayed && ev.member !== c.member && c.admin) {
      const text = `${room.nameOf(ev.member)} raised a hand`;
      notice(text);
      announce(text);
    }
    seats.render();
  });
  c.on('speaking', () => {
    seats.updateSpeaking();
    room.updateSpeaking();
  });
  c.on('gap', () => room.renderMembers());
  c.on('rtt', ({ rtt }) => {
    stats.rtt = rtt;
    $('rtt').textContent = `${rtt < 10 ? rtt.toFixed(1) : Math.round(rtt)} ms`;
  });
  c.on('joined', (m) => {
    const back = leaving.get(m.user);
    if (back) {
      clearTimeout(back);
      leaving.delete(m.user);
    }
    if (!m.replayed) {
      const text = `${m.name || m.user} ${back ? 'is back' : 'joined'}`;
      logSystem(text);
      announce(text);
    }
    room.renderMembers();
    seats.render();
  });
  c.on('left', (m) => {
    const why = { timeout: ' (connection lost)', kicked: ' (removed)', replaced: ' (rejoined)' };
    const text = `${m.name || m.user} left${why[m.reason] || ''}`;
    // A page reload closes and joins again within a moment: shown as "is back", not left+joined.
    if (m.reason === 'closed' && !m.replayed) {
      clearTimeout(leaving.get(m.user));
      const show = () => leaving.delete(m.user) && logSystem(text);
      leaving.set(m.user, setTimeout(show, LEFT_WAIT_MS));
    } else {
      logSystem(text);
    }
    room.lastAudioAt.delete(m.member);
    controls.engine?.removePeer(m.member);
    room.renderMembers();
    seats.render();
  });
  c.on('muted', (m) => {
    if (m.member === c.member) {
      controls.engine?.setMuted(m.muted);
      if (m.by !== c.member) {
        notice(m.muted ? 'An admin muted you: only an admin can unmute you'
          : 'An admin unmuted you', m.muted);
      }
    }
    room.renderMembers();
    controls.render();
  });
  c.on('chat', (m) => room.logMessage(m.from, m.text, 'chat'));
  c.on('whisper', (m) => room.logMessage(m.from, m.text, 'whisper', { to: c.member }));
  c.on('audio', ({ from, payload, whisper }) => {
    if (whisper) stats.whisperFramesReceived += 1;
    room.lastAudioAt.set(from, performance.now());
    controls.engine?.receive(from, payload);
  });
  c.on('error', (e) => onServerError(c, e));
  c.on('close', (info) => {
    if (client !== c || $('room-view').hidden) return; // join failures are reported by join()
    if (info.by === 'client' && info.reason === 'user') return;
    const why = { kicked: 'You were removed from the room by an admin.',
      replaced: 'You joined this room from another tab or device.' }[info.reason] ||
      `Disconnected (${info.reason || info.code}).`;
    leave(why);
  });
}

function onState(c, { state, attempt }) {
  stats.state = state;
  const labels = { connecting: 'Connecting…', open: 'Connected', resumed: 'Connected',
    reconnecting: `Reconnecting${attempt > 1 ? ` (try ${attempt})` : ''}…`, closed: 'Offline' };
  $('conn').dataset.state = state;
  $('conn-text').textContent = labels[state] || state;
  document.body.dataset.conn = state;
  const online = state === 'open' || state === 'resumed';
  $('room-view').classList.toggle('offline', !online);
  $('controls').classList.toggle('offline', !online);
  $('member-list').setAttribute('aria-disabled', String(!online));
  if (state === 'resumed') notice('Connection restored');
  if (!online) {
    $('rtt').textContent = '';
    $('quality').hidden = true;
    controls.talkEnd();
  }
  if (online && pendingChat) {
    pendingChat = false;
    $('chat-form').requestSubmit();
  }
  if (client === c) controls.render();
}

function onServerError(c, e) {
  const msg = e.message || '';
  // Audio still in flight when a mute lands is refused; the mute itself is already shown.
  if (e.code === 'forbidden' && /you are muted|may not speak/.test(msg)) return;
  if (e.code === 'forbidden' && /admin muted you/.test(msg)) {
    notice('An admin muted you: only an admin can unmute you.', true);
    controls.render();
    return;
  }
  // Audio still in flight when we stood up (or our seat was muted) is refused in seat mode.
  if (e.code === 'forbidden' && controls.seatBlock() && /seat|audio|speak/i.test(msg)) return;
  const text = { forbidden: 'Not allowed', too_fast: 'Slow down', too_big: 'Message too long',
    no_such_member: 'That person has left', seat_taken: 'That seat is taken',
    seat_locked: 'That seat is locked', no_such_seat: 'No such seat',
    not_seated: 'You are not on a seat' }[e.code] || e.code;
  notice(`${text}: ${msg}`, true);
}

// Our own seat changed: say so (the host invited us, stood us up), then redraw.
let ownSeat = -1;
function onSeats(c, ev) {
  const now = c.seatOf();
  if (now !== ownSeat && !ev.replayed) {
    const byHost = ev.by !== c.member;
    if (now >= 0 && ownSeat < 0) {
      notice(byHost ? `The host invited you to seat ${now + 1}: you can talk now`
        : `You are on seat ${now + 1}: you can talk now`);
    } else if (now < 0 && ownSeat >= 0 && byHost) {
      notice(ev.count === 0 ? 'The host turned the seats off' : 'You are no longer on a seat',
        ev.count !== 0);
    }
  }
  ownSeat = now;
  room.renderMembers();
  seats.render();
  controls.render();
}

// ---- room view ------------------------------------------------------------------------------

function showRoom(roomId) {
  $('join-view').hidden = true;
  $('room-view').hidden = false;
  $('controls').hidden = false;
  $('room-title').hidden = false;
  $('room-title').textContent = `# ${roomId}`;
  document.title = `${roomId} · Chorus`;
  const url = new URL(location.href);
  // An invite link, without any token; a dev-mode host keeps its ?admin=1 across a reload.
  url.search = `?room=${encodeURIComponent(roomId)}${!token && params.get('admin') === '1'
    ? '&admin=1' : ''}`;
  history.replaceState(null, '', url);
  $('chat-log').replaceChildren();
  logSystem(`You joined ${roomId} as ${client.name}`);
  room.renderMembers();
  seats.render();
  controls.render();
  speakingTimer = setInterval(() => room.updateSpeaking(), 100);
  qualityTimer = setInterval(updateQuality, 2000);
}

let lastCounts = { lost: 0, received: 0 };
function updateQuality() {
  if (!client?.connected) return;
  const lost = stats.framesLost - lastCounts.lost;
  const received = stats.framesReceived - lastCounts.received;
  lastCounts = { lost: stats.framesLost, received: stats.framesReceived };
  const q = quality({ rtt: client.rtt, loss: lost + received ? lost / (lost + received) : 0,
    jitter: stats.jitterMs });
  stats.quality = q;
  const el = $('quality');
  el.hidden = false;
  el.dataset.grade = q.grade;
  el.textContent = q.label;
  el.title = `Connection ${q.label.toLowerCase()}: ${q.detail}`;
  el.setAttribute('aria-label', el.title);
}

function sendChat(ev) {
  ev.preventDefault();
  const input = $('chat-input');
  const text = input.value.trim();
  if (!text || !client) return;
  const tooBig = textProblem(text);
  if (tooBig) return notice(tooBig, true, 10000);
  if (!client.connected) {
    pendingChat = true;
    return notice('Offline: your message is kept and will be sent when the connection is back.',
      true, 10000);
  }
  const w = room.whisper;
  if (w && !client.members.has(w.member)) {
    return notice(`${w.name} has left the room: your whisper was not sent. Choose someone ` +
      'else or Everyone.', true, 10000);
  }
  if (w) {
    if (!client.whisper(w.member, text)) return;
    room.logMessage(client.member, text, 'whisper', { to: w.member });
    room.whisper = null; // whisper mode ends with the message
    room.renderWhisperTargets([...client.members.values()]);
  } else if (!client.chat(text)) {
    return; // our own copy comes back as a chat event
  }
  input.value = '';
}

// ---- reload: keep the membership --------------------------------------------------------------

function saveSession() {
  if (!client?.member) return;
  sessionStorage.setItem(SESSION_KEY, JSON.stringify({ room: client.room, name: client.name,
    resume: client.resumeToken, lastSeq: client.lastSeq, seat: client.seatOf() }));
}

function restoreSession() {
  let s = null;
  try {
    s = JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null');
  } catch {
    s = null;
  }
  if (!s || (params.get('room') && params.get('room') !== s.room)) return false;
  const seat = Number.isInteger(s.seat) ? s.seat : -1;
  join(s.room, s.name, { token: s.resume, lastSeq: s.lastSeq }, seat);
  return true;
}

// A reload is a rejoin on the wire (the browser's close frame is a leave, docs/CLIENT.md), which
// stands the member up; the page sits down again on the same seat when nobody took it meanwhile
// and it is not locked. A resumed member still has its seat.
function retakeSeat(c, seat) {
  if (seat < 0 || !room.canSpeak || c.seatOf() >= 0) return;
  const s = c.seats.list[seat];
  if (s && s.member === null && !s.locked) c.takeSeat(seat);
}

// ---- leaving --------------------------------------------------------------------------------

async function teardown() {
  for (const t of leaving.values()) clearTimeout(t);
  leaving.clear();
  clearInterval(speakingTimer);
  clearInterval(qualityTimer);
  speakingTimer = qualityTimer = null;
  room.engine = null;
  await controls.stop();
  room.lastAudioAt = new Map();
}

async function leave(message = '') {
  const c = client;
  client = null;
  room.client = null;
  sessionStorage.removeItem(SESSION_KEY);
  if (c && c.state !== 'closed') c.close(1000, 'bye');
  await teardown();
  stats.state = 'closed';
  for (const id of ['room-view', 'controls', 'room-title', 'settings', 'stage']) $(id).hidden = true;
  ownSeat = -1;
  $('join-view').hidden = false;
  $('join-btn').disabled = false;
  $('join-error').textContent = message;
  $('conn').dataset.state = 'closed';
  $('conn-text').textContent = 'Not connected';
  $('rtt').textContent = '';
  $('quality').hidden = true;
  document.title = 'Chorus · voice rooms';
}

function init() {
  initJoinForm();
  controls.init();
  seats.init();
  $('chat-form').addEventListener('submit', sendChat);
  $('chat-to').addEventListener('change', () => room.onTargetChosen());
  $('leave-btn').addEventListener('click', () => leave());
  $('invite-btn').addEventListener('click', async () => {
    const url = new URL(location.href);
    url.search = `?room=${encodeURIComponent(client?.room || '')}`;
    try {
      await navigator.clipboard.writeText(url.href);
      notice('Invite link copied');
    } catch {
      notice(url.href);
    }
  });
  // Leaving the page keeps the membership for the resume grace: a reload resumes it.
  window.addEventListener('pagehide', saveSession);
  if (params.get('token')) {
    const url = new URL(location.href);
    url.searchParams.delete('token');
    history.replaceState(null, '', url);
  }
  restoreSession();
}

init();
