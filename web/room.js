// The room view of the page: the member list (speaking rings, host badges, seats, admin and
// per-listener controls), the whisper target, the chat log and the notices. It draws what the ChorusClient knows; app.js
// owns the connection and the audio engine and hands them in.

import { hue, initials } from './text.js';

const $ = (id) => document.getElementById(id);
const SPEAKING_MS = 300;
const LOG_MAX = 500;

export class RoomView {
  constructor({ isAdmin = false, onWhisperAudio = null } = {}) {
    this.client = null;
    this.engine = null;
    this.isAdmin = isAdmin;
    this.canSpeak = true; // false for a listener (token with speak:false)
    this.onWhisperAudio = onWhisperAudio; // (member id | 0) => void: hold-to-whisper
    this.onInvite = null; // (member id) => void: a host puts someone on a free seat
    this.lastAudioAt = new Map(); // member id -> performance.now() of its last audio frame
    this.lastSentAt = 0;
    this.sent = 0;
    this.speaking = new Set(); // who is shown speaking now (for the announcement)
    this.whisper = null; // {member, name} the chat sends to, or null for everyone
    this.localGain = new Map(); // member id -> volume chosen here (0: muted for me)
    this.noticeTimer = null;
    this.announced = new Map(); // member id -> when "X is speaking" was last announced
  }

  nameOf(id, fallback) {
    const c = this.client;
    if (c && id === c.member) return c.name || 'You';
    const m = c?.members.get(id);
    return m ? m.name || m.user : fallback || `Member ${id}`;
  }

  // ---- members ------------------------------------------------------------------------------

  renderMembers() {
    const c = this.client;
    if (!c || !c.member) return;
    const self = { member: c.member, user: c.user, name: c.name, muted: c.muted,
      speak: this.canSpeak, admin: c.admin };
    const others = [...c.members.values()].sort((a, b) =>
      (a.name || a.user).localeCompare(b.name || b.user));
    $('member-list').replaceChildren(this.memberItem(self, true),
      ...others.map((m) => this.memberItem(m, false)));
    $('member-count').textContent = String(others.length + 1);
    this.renderWhisperTargets(others);
    this.updateSpeaking();
  }

  memberItem(m, self) {
    const li = document.createElement('li');
    li.className = 'member';
    li.dataset.member = String(m.member);
    li.classList.toggle('self', self);
    li.classList.toggle('muted', m.muted);
    // In seat mode only the seated talk: everyone else is a listener, never "speaking".
    const model = this.client.model;
    const seat = model.seatOf(m.member);
    const listener = !m.speak || (model.seatMode && seat < 0);
    li.classList.toggle('listener', listener);
    li.classList.toggle('host', m.admin);
    const gain = this.localGain.get(m.member) ?? 1;
    li.classList.toggle('muted-for-me', !self && gain === 0);
    const av = document.createElement('span');
    av.className = 'avatar';
    av.setAttribute('aria-hidden', 'true');
    av.style.setProperty('--h', hue(m.user));
    av.textContent = initials(m.name || m.user);
    const info = document.createElement('span');
    info.className = 'who';
    const nm = document.createElement('span');
    nm.className = 'name';
    nm.textContent = m.name || m.user;
    nm.title = m.name || m.user;
    if (m.admin) {
      const host = document.createElement('span');
      host.className = 'host-badge';
      host.textContent = 'Host';
      nm.append(host);
    }
    const sub = document.createElement('span');
    sub.className = 'sub';
    sub.textContent = m.muted ? 'Muted' : listener ? 'Listener' : gain === 0 ? 'Muted for you'
      : seat >= 0 ? `Seat ${seat + 1}` : self ? 'You' : 'In the room';
    info.append(nm, sub);
    li.append(av, info);
    if (m.muted) li.append(mutedIcon());
    if (!self) li.append(this.actions(m, gain));
    return li;
  }

  actions(m, gain) {
    const box = document.createElement('span');
    box.className = 'actions';
    const who = m.name || m.user;
    box.append(chip('whisper', 'Whisper', who, `Whisper a message to ${who}`,
      () => this.setWhisper(m.member)));
    if (this.onWhisperAudio && this.canSpeak) {
      const talk = chip('talk', 'Hold to talk', who, `Hold to talk to ${who} only`, () => {});
      // The release is watched on the window: the list is redrawn while the button is held.
      talk.addEventListener('pointerdown', () => {
        this.onWhisperAudio(m.member);
        const stop = () => {
          window.removeEventListener('pointerup', stop);
          window.removeEventListener('pointercancel', stop);
          this.onWhisperAudio(0);
        };
        window.addEventListener('pointerup', stop);
        window.addEventListener('pointercancel', stop);
      });
      box.append(talk);
    }
    box.append(chip('local-mute', gain === 0 ? 'Unmute for me' : 'Mute for me', who,
      `Turn ${who} off or on for you only`, () => this.setLocalGain(m.member, gain === 0 ? 1 : 0)));
    const vol = document.createElement('input');
    vol.type = 'range';
    vol.className = 'peer-volume';
    vol.min = '0';
    vol.max = '2';
    vol.step = '0.1';
    vol.value = String(gain);
    vol.setAttribute('aria-label', `Volume of ${who}`);
    vol.addEventListener('change', () => this.setLocalGain(m.member, Number(vol.value)));
    box.append(vol);
    const model = this.client.model;
    if (this.isAdmin && model.seatMode && m.speak) {
      if (model.seatOf(m.member) >= 0) {
        box.append(chip('stand', 'Stand up', who, `Take ${who} off the seat`,
          () => this.client.standUp(m.member)));
      } else if (this.onInvite) {
        box.append(chip('invite-seat', 'Invite to seat', who, `Put ${who} on a free seat`,
          () => this.onInvite(m.member)));
      }
    }
    if (this.isAdmin) {
      box.append(chip('admin-mute', m.muted ? 'Unmute' : 'Mute', who,
        `${m.muted ? 'Unmute' : 'Mute'} ${who} for everyone`,
        () => this.client.muteMember(m.member, !m.muted)));
      box.append(chip('kick', 'Kick', who, `Remove ${who} from the room`, () => {
        if (confirm(`Remove ${who} from the room?`)) this.client.kick(m.member);
      }));
    }
    return box;
  }

  setLocalGain(id, gain) {
    this.localGain.set(id, gain);
    this.engine?.setPeerGain(id, gain);
    this.renderMembers();
  }

  updateSpeaking() {
    const t = performance.now();
    const online = !!this.client?.connected; // offline, nobody is heard
    const stats = window.chorusStats;
    if (stats.framesSent !== this.sent) {
      this.sent = stats.framesSent;
      this.lastSentAt = t;
    }
    // A server with the seats addition says who is speaking (from the levels of the audio it
    // relays, the sender's own included); an older one is guessed from the audio heard here.
    const told = this.client?.seatsSupported ? new Set(this.client.speaking) : null;
    for (const li of $('member-list').children) {
      const id = Number(li.dataset.member);
      const at = id === this.client?.member ? this.lastSentAt : this.lastAudioAt.get(id) || 0;
      const heard = told ? told.has(id) : t - at < SPEAKING_MS;
      const on = online && heard && !li.classList.contains('muted') &&
        !li.classList.contains('listener');
      li.classList.toggle('speaking', on);
      if (on && !this.speaking.has(id)) this.announceSpeaker(id, t);
      if (on) this.speaking.add(id);
      else this.speaking.delete(id);
    }
  }

  // "X is speaking" for screen readers: at most once per speaker every 10 s.
  announceSpeaker(id, t) {
    if (id === this.client?.member || t - (this.announced.get(id) || -1e9) < 10000) return;
    this.announced.set(id, t);
    announce(`${this.nameOf(id)} is speaking`);
  }

  // ---- whisper target ----------------------------------------------------------------------

  setWhisper(id) {
    const m = this.client?.members.get(id);
    this.whisper = m ? { member: id, name: m.name || m.user } : null;
    this.renderWhisperTargets([...(this.client?.members.values() || [])]);
    $('chat-input').focus();
  }

  // The selector never drops a whisper target on its own: if the person left, the option stays
  // (marked "left") and sending refuses, so a private text can never go to everyone.
  renderWhisperTargets(others) {
    const sel = $('chat-to');
    const opts = [new Option('Everyone', '')];
    for (const m of others) {
      opts.push(new Option(`Whisper to ${m.name || m.user}`, String(m.member)));
    }
    const w = this.whisper;
    if (w && !others.some((m) => m.member === w.member)) {
      opts.push(new Option(`Whisper to ${w.name} (left)`, String(w.member)));
    }
    sel.replaceChildren(...opts);
    sel.value = w ? String(w.member) : '';
    const gone = w && !this.client?.members.has(w.member);
    $('chat-input').placeholder = !w ? 'Message everyone'
      : gone ? `${w.name} left: choose someone else` : `Whisper to ${w.name}`;
    $('chat-form').classList.toggle('whispering', !!w);
  }

  onTargetChosen() {
    const id = Number($('chat-to').value);
    if (!id) this.whisper = null;
    else this.setWhisper(id);
    this.renderWhisperTargets([...(this.client?.members.values() || [])]);
  }

  // ---- chat log -----------------------------------------------------------------------------

  logMessage(from, text, kind, { to } = {}) {
    const c = this.client;
    const li = document.createElement('li');
    li.className = `msg ${kind}`;
    li.dataset.from = String(from);
    const self = from === c.member;
    li.classList.toggle('mine', self);
    const head = document.createElement('div');
    head.className = 'head';
    const who = document.createElement('span');
    who.className = 'author';
    who.textContent = self ? 'You' : this.nameOf(from);
    if (!self) who.style.setProperty('--h', hue(c.members.get(from)?.user || from));
    head.append(who);
    if (kind === 'whisper') {
      const tag = document.createElement('span');
      tag.className = 'tag';
      tag.textContent = self ? `whispered to ${this.nameOf(to)}` : 'whispered to you';
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
}

// A member's button: `label` shows, `who` is added for screen readers (a list of ten "Whisper"
// buttons says nothing), `title` explains it on hover.
function chip(cls, label, who, title, fn) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = `chip ${cls}`;
  b.textContent = label;
  b.title = title;
  const hint = document.createElement('span');
  hint.className = 'sr-only';
  hint.textContent = ` (${who})`;
  b.append(hint);
  b.addEventListener('click', fn);
  return b;
}

function mutedIcon() {
  const mi = document.createElement('span');
  mi.className = 'muted-icon';
  mi.setAttribute('role', 'img');
  mi.setAttribute('aria-label', 'Muted');
  mi.innerHTML = '<svg viewBox="0 0 24 24" aria-hidden="true"><rect x="9" y="3" width="6" ' +
    'height="11" rx="3"/><path d="M5 11a7 7 0 0 0 14 0M12 18v3M4 4l16 16"/></svg>';
  return mi;
}

export function appendLog(li) {
  const log = $('chat-log');
  const stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 40;
  log.append(li);
  while (log.children.length > LOG_MAX) log.firstChild.remove();
  if (stick) log.scrollTop = log.scrollHeight;
}

export function logSystem(text) {
  const li = document.createElement('li');
  li.className = 'msg system';
  li.textContent = text;
  appendLog(li);
}

let noticeTimer = null;
export function notice(text, isError = false, ms = 6000) {
  const n = $('notice');
  n.textContent = text;
  n.classList.toggle('error', isError);
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => (n.textContent = ''), ms);
}

export function announce(text) {
  const a = $('announce');
  a.textContent = '';
  setTimeout(() => (a.textContent = text), 50); // a change, even for the same text
}
