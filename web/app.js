// The Chorus room page: join form, member list with speaking indicators, chat and whispers,
// mute/kick for admins, connection state and RTT. Wires ChorusClient (chorus.js) to the audio
// path (audio.js). Counters for tests and debugging are published on window.chorusStats.

import { ChorusClient, makeUserId } from './chorus.js';
import { AudioEngine, webCodecsMissing } from './audio.js';

const $ = (id) => document.getElementById(id);
const SPEAKING_MS = 300;
const PING_EVERY_MS = 3000;
const LOG_MAX = 500;

const stats = (window.chorusStats = {
  state: 'idle',
  member: 0,
  rtt: null,
  framesCaptured: 0,
  framesEncoded: 0,
  framesGated: 0,
  framesSent: 0,
  bytesSent: 0,
  framesReceived: 0,
  framesBad: 0,
  framesLate: 0,
  framesLost: 0,
  framesDecoded: {},
  framesDecodedTotal: 0,
  encodeErrors: 0,
  decodeErrors: 0,
  micRms: 0,
  outputRms: 0,
  outputRmsMax: 0,
  outputPeak: 0,
  voices: {},
});

const params = new URLSearchParams(location.search);
const token = params.get('token') || '';
const claims = token ? decodeJwt(token) : null;
const isAdmin = !!(claims && claims.admin === true);

let client = null;
let engine = null;
let lastAudioAt = new Map(); // member id -> performance.now() of its last audio frame
let lastSentAt = 0;
let speakingTimer = null;

function decodeJwt(jwt) {
  try {
    const part = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(part + '='.repeat((4 - (part.length % 4)) % 4));
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))));
  } catch {
    return null;
  }
}

// ---- join form ------------------------------------------------------------------------------

function initJoinForm() {
  const room = $('room');
  const name = $('name');
  room.value = params.get('room') || localStorage.getItem('chorus.room') || 'lobby';
  name.value = params.get('name') || localStorage.getItem('chorus.name') || '';
  if (claims) {
    if (claims.room && claims.room !== '*') {
      room.value = claims.room;
      room.readOnly = true;
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
  }
  $('join-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    join(room.value.trim(), name.value.trim());
  });
  if (!name.value) name.focus();
}

function userIdFor(name) {
  // One id per tab and name: a reload takes over the old connection instead of doubling up.
  const key = `chorus.user.${name}`;
  let id = sessionStorage.getItem(key);
  if (!id) sessionStorage.setItem(key, (id = makeUserId(name)));
  return id;
}

async function join(room, name) {
  const err = $('join-error');
  err.textContent = '';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(room)) {
    err.textContent = 'Room names use letters, digits, dot, dash and underscore (up to 64).';
    return;
  }
  if (!name && !token) {
    err.textContent = 'Please enter your name.';
    return;
  }
  localStorage.setItem('chorus.room', room);
  if (!token) localStorage.setItem('chorus.name', name);
  $('join-btn').disabled = true;

  const opts = { room, pingIntervalMs: PING_EVERY_MS };
  if (token) opts.token = token;
  else Object.assign(opts, { user: userIdFor(name), name });
  client = new ChorusClient(opts);
  wireClient(client);

  const voice = webCodecsMissing().length === 0;
  if (voice) {
    engine = new AudioEngine({ send: (p) => client.sendAudio(p), stats });
    engine.onLevel = (rms) => {
      $('mic-meter').style.width = `${Math.min(100, Math.sqrt(rms) * 220)}%`;
    };
    try {
      await engine.start(); // inside the click: the AudioContext may start
    } catch (e) {
      console.error(e);
      engine = null;
    }
  }
  try {
    await client.connect();
  } catch (e) {
    $('join-btn').disabled = false;
    err.textContent = `Could not join “${room}”: ${e.message}. Is the server running?`;
    await teardown();
    return;
  }
  showRoom(room);
  if (engine) startMic();
  else setMicStatus('Voice unavailable in this browser: chat only', 'off');
}

async function startMic() {
  try {
    await engine.startMic();
    setMicStatus('Microphone on', 'on');
  } catch (e) {
    const why = e && e.name === 'NotAllowedError' ? 'permission denied' : e.message || e.name;
    setMicStatus(`No microphone (${why}): listening only`, 'off');
  }
}

function setMicStatus(text, cls) {
  const s = $('mic-status');
  s.textContent = text;
  s.dataset.state = cls;
}

// ---- client events --------------------------------------------------------------------------

function wireClient(c) {
  c.on('state', ({ state, attempt }) => {
    stats.state = state;
    const labels = { connecting: 'Connecting…', open: 'Connected', resumed: 'Connected',
      reconnecting: `Reconnecting${attempt > 1 ? ` (try ${attempt})` : ''}…`, closed: 'Offline' };
    $('conn').dataset.state = state;
    $('conn-text').textContent = labels[state] || state;
    if (state === 'resumed') notice('Connection restored');
    if (state !== 'open' && state !== 'resumed') $('rtt').textContent = '';
  });
  c.on('welcome', (w) => {
    stats.member = w.member;
    renderMembers();
  });
  c.on('gap', () => renderMembers());
  c.on('rtt', ({ rtt }) => {
    stats.rtt = rtt;
    $('rtt').textContent = `${rtt < 10 ? rtt.toFixed(1) : Math.round(rtt)} ms`;
  });
  c.on('joined', (m) => {
    if (!m.replayed) logSystem(`${m.name || m.user} joined`);
    renderMembers();
  });
  c.on('left', (m) => {
    const why = { timeout: ' (connection lost)', kicked: ' (removed)', replaced: ' (rejoined)' };
    logSystem(`${nameOf(m.member, m.user)} left${why[m.reason] || ''}`);
    lastAudioAt.delete(m.member);
    engine?.removePeer(m.member);
    renderMembers();
  });
  c.on('muted', (m) => {
    if (m.member === c.member) {
      engine?.setMuted(m.muted);
      if (m.by !== c.member) notice(m.muted ? 'An admin muted you' : 'An admin unmuted you');
    }
    renderMembers();
    renderMute();
  });
  c.on('chat', (m) => logMessage(m.from, m.text, 'chat'));
  c.on('whisper', (m) => logMessage(m.from, m.text, 'whisper', { to: c.member }));
  c.on('audio', ({ from, payload }) => {
    lastAudioAt.set(from, performance.now());
    engine?.receive(from, payload);
  });
  c.on('error', (e) => {
    // Audio still in flight when a mute lands is refused; the mute itself is already shown.
    if (e.code === 'forbidden' && c.muted && /mute/i.test(e.message || '')) return;
    const text = { forbidden: 'Not allowed', too_fast: 'Slow down', too_big: 'Message too long',
      no_such_member: 'That person has left' }[e.code] || e.code;
    notice(`${text}: ${e.message}`, true);
  });
  c.on('close', (info) => {
    if (client !== c || $('room-view').hidden) return; // join failures are reported by join()
    if (info.by === 'client' && info.reason === 'user') return;
    const why = { kicked: 'You were removed from the room by an admin.',
      replaced: 'You joined this room from another tab or device.' }[info.reason]
      || `Disconnected (${info.reason || info.code}).`;
    leave(why);
  });
}

function nameOf(id, fallback) {
  if (client && id === client.member) return client.name || 'You';
  const m = client?.members.get(id);
  return m ? m.name || m.user : fallback || `Member ${id}`;
}

// ---- room view ------------------------------------------------------------------------------

function showRoom(room) {
  $('join-view').hidden = true;
  $('room-view').hidden = false;
  $('controls').hidden = false;
  $('room-title').hidden = false;
  $('room-title').textContent = `# ${room}`;
  document.title = `${room} · Chorus`;
  const url = new URL(location.href);
  url.searchParams.set('room', room);
  history.replaceState(null, '', url);
  $('chat-log').replaceChildren();
  logSystem(`You joined ${room} as ${client.name}`);
  renderMembers();
  renderMute();
  speakingTimer = setInterval(updateSpeaking, 100);
  $('chat-input').focus();
}

function initials(name) {
  const parts = String(name).trim().split(/\s+/).filter(Boolean);
  const s = parts.length > 1 ? parts[0][0] + parts[parts.length - 1][0] : String(name).slice(0, 2);
  return s.toUpperCase();
}

function hue(s) {
  let h = 0;
  for (const ch of String(s)) h = (h * 31 + ch.codePointAt(0)) % 360;
  return h;
}

function memberItem(m, self) {
  const li = document.createElement('li');
  li.className = 'member';
  li.dataset.member = String(m.member);
  if (self) li.classList.add('self');
  if (m.muted) li.classList.add('muted');
  const av = document.createElement('span');
  av.className = 'avatar';
  av.style.setProperty('--h', hue(m.user));
  av.textContent = initials(m.name || m.user);
  const info = document.createElement('span');
  info.className = 'who';
  const nm = document.createElement('span');
  nm.className = 'name';
  nm.textContent = m.name || m.user;
  const sub = document.createElement('span');
  sub.className = 'sub';
  sub.textContent = m.muted ? 'Muted' : !m.speak ? 'Listener' : self ? 'You' : 'In the room';
  info.append(nm, sub);
  li.append(av, info);
  const actions = document.createElement('span');
  actions.className = 'actions';
  if (m.muted) {
    const mi = document.createElement('span');
    mi.className = 'muted-icon';
    mi.title = 'Muted';
    mi.innerHTML = '<svg viewBox="0 0 24 24"><rect x="9" y="3" width="6" height="11" rx="3"/>' +
      '<path d="M5 11a7 7 0 0 0 14 0M12 18v3M4 4l16 16"/></svg>';
    actions.append(mi);
  }
  if (!self) {
    actions.append(actionButton('whisper', 'Whisper', () => whisperTo(m.member)));
    if (isAdmin) {
      actions.append(actionButton('admin-mute', m.muted ? 'Unmute' : 'Mute',
        () => client.muteMember(m.member, !m.muted)));
      actions.append(actionButton('kick', 'Kick', () => {
        if (confirm(`Remove ${m.name || m.user} from the room?`)) client.kick(m.member);
      }));
    }
  }
  li.append(actions);
  return li;
}

function actionButton(cls, label, fn) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = `chip ${cls}`;
  b.textContent = label;
  b.addEventListener('click', fn);
  return b;
}

function renderMembers() {
  if (!client || !client.member) return;
  const list = $('member-list');
  const self = { member: client.member, user: client.user, name: client.name,
    muted: client.muted, speak: true };
  const others = [...client.members.values()].sort((a, b) =>
    (a.name || a.user).localeCompare(b.name || b.user));
  list.replaceChildren(memberItem(self, true), ...others.map((m) => memberItem(m, false)));
  $('member-count').textContent = String(others.length + 1);
  renderWhisperTargets(others);
  updateSpeaking();
}

function renderWhisperTargets(others) {
  const sel = $('chat-to');
  const keep = sel.value;
  const opts = [new Option('Everyone', '')];
  for (const m of others) opts.push(new Option(`Whisper to ${m.name || m.user}`, String(m.member)));
  sel.replaceChildren(...opts);
  sel.value = others.some((m) => String(m.member) === keep) ? keep : '';
  updateChatPlaceholder();
}

function updateSpeaking() {
  const t = performance.now();
  if (stats.framesSent !== updateSpeaking.sent) {
    updateSpeaking.sent = stats.framesSent;
    lastSentAt = t;
  }
  for (const li of $('member-list').children) {
    const id = Number(li.dataset.member);
    const at = id === client?.member ? lastSentAt : lastAudioAt.get(id) || 0;
    li.classList.toggle('speaking', t - at < SPEAKING_MS && !li.classList.contains('muted'));
  }
}

function renderMute() {
  const muted = !!client?.muted;
  const b = $('mute-btn');
  b.setAttribute('aria-pressed', String(muted));
  b.classList.toggle('on', muted);
  $('mute-label').textContent = muted ? 'Unmute' : 'Mute';
}

function toggleMute() {
  if (!client || !client.connected) return;
  const want = !client.muted;
  // Mute takes effect locally at once; unmute waits for the server's muted event (an admin
  // mute is sticky and the server answers forbidden).
  if (want) engine?.setMuted(true);
  client.mute(want);
}

function whisperTo(id) {
  $('chat-to').value = String(id);
  updateChatPlaceholder();
  $('chat-input').focus();
}

function updateChatPlaceholder() {
  const to = Number($('chat-to').value);
  $('chat-input').placeholder = to ? `Whisper to ${nameOf(to)}` : 'Message everyone';
  $('chat-form').classList.toggle('whispering', !!to);
}

// ---- chat log -------------------------------------------------------------------------------

function appendLog(li) {
  const log = $('chat-log');
  const stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 40;
  log.append(li);
  while (log.children.length > LOG_MAX) log.firstChild.remove();
  if (stick) log.scrollTop = log.scrollHeight;
}

function logMessage(from, text, kind, { to } = {}) {
  const li = document.createElement('li');
  li.className = `msg ${kind}`;
  li.dataset.from = String(from);
  const self = from === client.member;
  if (self) li.classList.add('mine');
  const head = document.createElement('div');
  head.className = 'head';
  const who = document.createElement('span');
  who.className = 'author';
  who.textContent = self ? 'You' : nameOf(from);
  if (!self) who.style.setProperty('--h', hue(client.members.get(from)?.user || from));
  head.append(who);
  if (kind === 'whisper') {
    const tag = document.createElement('span');
    tag.className = 'tag';
    tag.textContent = self ? `whispered to ${nameOf(to)}` : 'whispered to you';
    head.append(tag);
  }
  const time = document.createElement('time');
  time.textContent = new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  head.append(time);
  const body = document.createElement('div');
  body.className = 'text';
  body.textContent = text;
  li.append(head, body);
  appendLog(li);
}

function logSystem(text) {
  const li = document.createElement('li');
  li.className = 'msg system';
  li.textContent = text;
  appendLog(li);
}

let noticeTimer = null;
function notice(text, isError = false) {
  const n = $('notice');
  n.textContent = text;
  n.classList.toggle('error', isError);
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => (n.textContent = ''), 4000);
}

function sendChat(ev) {
  ev.preventDefault();
  const input = $('chat-input');
  const text = input.value.trim();
  if (!text || !client?.connected) return;
  const to = Number($('chat-to').value);
  if (to) {
    if (client.whisper(to, text)) logMessage(client.member, text, 'whisper', { to });
  } else {
    client.chat(text); // our own copy comes back as a chat event
  }
  input.value = '';
}

// ---- leaving --------------------------------------------------------------------------------

async function teardown() {
  clearInterval(speakingTimer);
  speakingTimer = null;
  const e = engine;
  engine = null;
  if (e) await e.stop();
  lastAudioAt = new Map();
}

async function leave(message = '') {
  const c = client;
  client = null;
  if (c && c.state !== 'closed') c.close(1000, 'bye');
  await teardown();
  stats.state = 'closed';
  $('room-view').hidden = true;
  $('controls').hidden = true;
  $('room-title').hidden = true;
  $('join-view').hidden = false;
  $('join-btn').disabled = false;
  $('join-error').textContent = message;
  $('conn').dataset.state = 'closed';
  $('conn-text').textContent = 'Not connected';
  $('rtt').textContent = '';
  document.title = 'Chorus · voice rooms';
}

function init() {
  initJoinForm();
  $('chat-form').addEventListener('submit', sendChat);
  $('chat-to').addEventListener('change', updateChatPlaceholder);
  $('mute-btn').addEventListener('click', toggleMute);
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
  document.addEventListener('keydown', (ev) => {
    const typing = ev.target instanceof HTMLInputElement || ev.target instanceof HTMLSelectElement;
    if (!typing && (ev.key === 'm' || ev.key === 'M') && client) toggleMute();
  });
  window.addEventListener('pagehide', () => client?.close(1000, 'page closed'));
}

init();
