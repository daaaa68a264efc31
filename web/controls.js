// The page's audio controls: microphone and speaker choice, output volume, the microphone test
// on the join form, mute with its status line, push-to-talk (hold Space) and hold-to-whisper.
// The preferences live in localStorage, so a rejoin or a reload keeps them.

import { AudioEngine } from './audio.js';
import { notice } from './room.js';
import { levelFromRms } from './room_model.js';

const $ = (id) => document.getElementById(id);
const pref = (k, v) => (v === undefined ? localStorage.getItem(`chorus.${k}`)
  : localStorage.setItem(`chorus.${k}`, v));

export class Controls {
  // page: {client(), stats, canSpeak, onMuteChange()}
  constructor(page) {
    this.page = page;
    this.engine = null;
    this.mic = 'none'; // none | starting | on | failed | unsupported | listener
    this.micError = '';
    this.ptt = false; // talking with Space (or hold-to-whisper) while muted
    this.whisperTarget = 0; // member the held "talk" button sends audio to
  }

  get client() {
    return this.page.client();
  }

  wantMuted() {
    return pref('muted') === '1';
  }

  // The audio engine, made (and its AudioContext started) on first use: inside a click when
  // possible, because browsers start audio only after a user gesture.
  async ensureEngine() {
    if (this.engine) return this.engine;
    const e = new AudioEngine({ send: (p) => this.send(p), stats: this.page.stats });
    e.onLevel = (rms) => this.showLevel(rms);
    await e.start();
    e.setVolume(Number(pref('volume') ?? 1));
    if (pref('speaker')) e.setSpeaker(pref('speaker')).catch(() => {});
    e.setMuted(this.wantMuted());
    this.engine = e;
    if (e.ctx.state !== 'running') {
      const resume = () => e.ctx?.resume().then(() => notice('Sound is on'));
      document.addEventListener('pointerdown', resume, { once: true });
      document.addEventListener('keydown', resume, { once: true });
      notice('Click anywhere or press a key to turn the sound on');
    }
    return e;
  }

  // One encoded frame: to the held whisper target, else to the room -- with its level (0x03)
  // when the server derives who is speaking from it. In seat mode only the seated talk: the
  // server would drop anyone else's audio, so it is not sent.
  send(payload) {
    const c = this.client;
    if (!c) return false;
    if (this.whisperTarget) return c.sendWhisperAudio(this.whisperTarget, payload);
    if (this.seatBlock()) return false;
    return c.seatsSupported ? c.sendAudio(payload, levelFromRms(this.page.stats.micRms))
      : c.sendAudio(payload);
  }

  // Why seat mode keeps our room audio off the air: 'standing', 'seat-muted' or ''.
  seatBlock() {
    const c = this.client;
    const m = c?.model;
    if (!m?.seatMode || !this.page.canSpeak) return '';
    const at = m.seatOf(c.member);
    return at < 0 ? 'standing' : m.seats.list[at].muted ? 'seat-muted' : '';
  }

  showLevel(rms) {
    const pct = Math.min(100, Math.sqrt(rms) * 220);
    $('mic-meter').style.width = `${pct}%`;
    $('test-meter').style.width = `${pct}%`;
    $('test-meter-box').setAttribute('aria-valuenow', String(Math.round(pct)));
  }

  async startMic() {
    if (!this.page.canSpeak) {
      this.mic = 'listener';
      this.render();
      return;
    }
    this.mic = 'starting';
    this.render();
    try {
      await this.engine.startMic(pref('mic') || '');
      this.mic = 'on';
    } catch (e) {
      if (pref('mic') && e && e.name === 'OverconstrainedError') {
        pref('mic', ''); // the chosen microphone is gone: take the default
        return this.startMic();
      }
      this.mic = 'failed';
      this.micError = e && e.name === 'NotAllowedError' ? 'permission denied'
        : (e && (e.message || e.name)) || 'unavailable';
    }
    this.render();
    this.fillDevices();
  }

  // The join form's "Test microphone": opens the microphone early and shows its level.
  async testMic() {
    const status = $('mic-test-status');
    try {
      await this.ensureEngine();
      await this.engine.startMic(pref('mic') || '');
      this.mic = 'on';
      status.textContent = 'Speak: the bar moves when the microphone hears you.';
      this.fillDevices();
    } catch (e) {
      status.textContent = e && e.name === 'NotAllowedError'
        ? 'The browser denied the microphone: allow it in the address bar, then try again.'
        : `No microphone: ${(e && (e.message || e.name)) || 'unavailable'}`;
    }
  }

  // ---- mute, push-to-talk -----------------------------------------------------------------

  toggleMute() {
    const c = this.client;
    if (!c || !c.connected || !this.page.canSpeak) return;
    const want = !c.muted;
    if (!want && c.adminMuted) {
      notice('An admin muted you: only an admin can unmute you.', true);
      return;
    }
    // Muting takes effect here at once; unmuting waits for the server's muted event.
    if (want) this.engine?.setMuted(true);
    c.mute(want);
    pref('muted', want ? '1' : '0');
    this.render();
  }

  // Space held (or a member's "Hold to talk"): talk while muted; releasing mutes again.
  talkStart(target = 0) {
    const c = this.client;
    if (!c || !c.connected || !this.page.canSpeak || this.mic !== 'on') return;
    this.whisperTarget = target;
    if (!c.muted || this.ptt) return;
    if (c.adminMuted) {
      notice('An admin muted you: only an admin can unmute you.', true);
      return;
    }
    this.ptt = true;
    c.mute(false);
    this.render();
  }

  talkEnd() {
    this.whisperTarget = 0;
    if (!this.ptt) return;
    this.ptt = false;
    this.engine?.setMuted(true);
    this.client?.mute(true);
    this.render();
  }

  // The mute button and the status line say the same thing as the server's state.
  render() {
    const c = this.client;
    const muted = !!c?.muted;
    const b = $('mute-btn');
    b.hidden = !this.page.canSpeak;
    b.disabled = !c?.connected;
    b.setAttribute('aria-pressed', String(muted));
    b.classList.toggle('on', muted);
    $('mute-label').textContent = muted ? 'Muted' : 'Mute';
    b.title = !muted ? 'Mute (M)' : c?.adminMuted ? 'An admin muted you'
      : 'Unmute (M) · hold Space to talk';
    const text = {
      none: 'Voice unavailable in this browser: chat only',
      unsupported: 'Voice unavailable in this browser: chat only',
      starting: 'Microphone starting…',
      offline: 'Offline: the microphone waits for the connection',
      failed: this.micError === 'permission denied' ? 'Microphone blocked: listening only'
        : `No microphone (${this.micError})`,
      listener: 'Listener: you can hear the room and chat, not speak',
      on: this.ptt ? 'Talking (release Space to mute)'
        : muted ? (c?.adminMuted ? 'Muted by an admin' : 'Muted · hold Space to talk')
          : 'Microphone on',
      standing: 'Listener: take a seat to talk',
      'seat-muted': 'Your seat is muted by the host',
    }[c && !c.connected && this.mic === 'on' ? 'offline'
      : this.mic === 'on' && this.seatBlock() ? this.seatBlock() : this.mic];
    const s = $('mic-status');
    s.textContent = text;
    s.title = text;
    s.dataset.state = this.mic === 'on' && !muted && !this.seatBlock() ? 'on' : 'off';
    $('mic-retry').hidden = this.mic !== 'failed';
  }

  // ---- devices and volume -----------------------------------------------------------------

  async fillDevices() {
    if (!navigator.mediaDevices?.enumerateDevices) return;
    const devices = await navigator.mediaDevices.enumerateDevices().catch(() => []);
    const fill = (sel, kind, chosen) => {
      const opts = [new Option('Default', '')];
      for (const d of devices.filter((x) => x.kind === kind && x.deviceId !== 'default')) {
        opts.push(new Option(d.label || `${kind === 'audioinput' ? 'Microphone' : 'Speaker'} ` +
          `${opts.length}`, d.deviceId));
      }
      sel.replaceChildren(...opts);
      sel.value = chosen || '';
    };
    fill($('mic-select'), 'audioinput', pref('mic'));
    fill($('speaker-select'), 'audiooutput', pref('speaker'));
    const canPick = typeof AudioContext !== 'undefined' && 'setSinkId' in AudioContext.prototype;
    $('speaker-select').closest('label').hidden = !canPick;
  }

  init() {
    $('mute-btn').addEventListener('click', () => this.toggleMute());
    $('mic-retry').addEventListener('click', () => this.engine && this.startMic());
    $('mic-test-btn').addEventListener('click', () => this.testMic());
    $('settings-btn').addEventListener('click', () => {
      const panel = $('settings');
      panel.hidden = !panel.hidden;
      $('settings-btn').setAttribute('aria-expanded', String(!panel.hidden));
      if (!panel.hidden) this.fillDevices();
    });
    $('mic-select').addEventListener('change', async (ev) => {
      pref('mic', ev.target.value);
      if (this.engine && this.mic !== 'listener') await this.startMic();
    });
    $('speaker-select').addEventListener('change', (ev) => {
      pref('speaker', ev.target.value);
      this.engine?.setSpeaker(ev.target.value).catch((e) => notice(e.message, true));
    });
    const volume = $('volume');
    volume.value = pref('volume') ?? '1';
    volume.addEventListener('input', () => {
      pref('volume', volume.value);
      this.engine?.setVolume(Number(volume.value));
    });
    const typing = (t) => t instanceof HTMLInputElement || t instanceof HTMLSelectElement ||
      t instanceof HTMLTextAreaElement;
    document.addEventListener('keydown', (ev) => {
      if (typing(ev.target) || !this.client) return;
      if (ev.code === 'Space') {
        ev.preventDefault(); // no button press, no scrolling
        if (!ev.repeat) this.talkStart();
      } else if ((ev.key === 'm' || ev.key === 'M') && !ev.ctrlKey && !ev.metaKey) {
        this.toggleMute();
      }
    });
    document.addEventListener('keyup', (ev) => {
      if (ev.code === 'Space') this.talkEnd();
    });
    window.addEventListener('blur', () => this.talkEnd());
  }

  async stop() {
    this.talkEnd();
    const e = this.engine;
    this.engine = null;
    if (e) await e.stop();
    this.mic = 'none';
  }
}
