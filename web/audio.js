// The page's audio path. Send: microphone -> capture worklet (20 ms frames) -> WebCodecs Opus
// AudioEncoder -> 6-byte header + Opus packet. Receive: per-sender seq check -> AudioDecoder ->
// mixer worklet (per-speaker PCM jitter buffer). Counters go to `stats` for the UI and tests.

export const SAMPLE_RATE = 48000;
export const FRAME_SAMPLES = 960; // 20 ms
export const HEADER_BYTES = 6; // u16 seq BE, u32 timestamp BE (48 kHz sample clock)
const GATE_RMS = 0.002; // about -54 dBFS: below this a frame counts as silence
const GATE_HANGOVER_FRAMES = 20; // keep sending 400 ms after the last loud frame
const LATE_WINDOW = 50; // a packet up to 1 s older than the next expected one is late

export function webCodecsMissing() {
  const missing = [];
  if (typeof AudioEncoder === 'undefined') missing.push('AudioEncoder');
  if (typeof AudioDecoder === 'undefined') missing.push('AudioDecoder');
  if (typeof AudioWorkletNode === 'undefined') missing.push('AudioWorklet');
  return missing;
}

// Payload of a 0x01 frame: [seq:u16][timestamp:u32][opus packet].
export function packFrame(seq, timestamp, opus) {
  const out = new Uint8Array(HEADER_BYTES + opus.length);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, seq & 0xffff);
  dv.setUint32(2, timestamp >>> 0);
  out.set(opus, HEADER_BYTES);
  return out;
}

export function unpackFrame(payload) {
  if (payload.length <= HEADER_BYTES) return null;
  const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  return { seq: dv.getUint16(0), timestamp: dv.getUint32(2), opus: payload.subarray(HEADER_BYTES) };
}

export class AudioEngine {
  // send(payload) is called with each outgoing frame payload; it returns false when dropped.
  constructor({ send, stats }) {
    this.send = send;
    this.stats = stats;
    this.ctx = null;
    this.mixer = null;
    this.capture = null;
    this.stream = null;
    this.encoder = null;
    this.muted = false;
    this.seq = 0;
    this.sampleClock = 0;
    this.gate = 0;
    this.gateEnabled = true;
    this.loud = false;
    this.peers = new Map(); // member id -> {decoder, nextSeq, transit, jitter}
    this.onLevel = null; // (micRms) => void
    this.output = null; // GainNode: the listener's output volume
    this.source = null; // the microphone's MediaStreamSource
  }

  // Must run from a user gesture (the Join click) so the AudioContext may start.
  async start() {
    this.ctx = new AudioContext({ sampleRate: SAMPLE_RATE, latencyHint: 'interactive' });
    await this.ctx.audioWorklet.addModule(new URL('./worklet.js', import.meta.url));
    this.mixer = new AudioWorkletNode(this.ctx, 'chorus-mixer', {
      numberOfInputs: 0,
      outputChannelCount: [1],
    });
    this.mixer.port.onmessage = (ev) => this._onMixerStats(ev.data);
    this.output = this.ctx.createGain();
    this.mixer.connect(this.output).connect(this.ctx.destination);
    if (this.ctx.state !== 'running') await this.ctx.resume().catch(() => {});
  }

  // Opens the microphone (deviceId: one of enumerateDevices()' audioinput ids, or '' for the
  // default) and the encoder; throws with a readable message on failure. Called again, it
  // switches to another microphone.
  async startMic(deviceId = '') {
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: {
        echoCancellation: true,
        noiseSuppression: true,
        autoGainControl: true,
        channelCount: 1,
        ...(deviceId ? { deviceId: { exact: deviceId } } : {}),
      },
    });
    this.stopMic();
    this.stream = stream;
    for (const t of stream.getAudioTracks()) t.enabled = !this.muted;
    this.encoder = new AudioEncoder({
      output: (chunk) => this._onEncoded(chunk),
      error: (e) => {
        this.stats.encodeErrors += 1;
        console.error('chorus: encoder error', e);
      },
    });
    this.encoder.configure({
      codec: 'opus',
      sampleRate: SAMPLE_RATE,
      numberOfChannels: 1,
      bitrate: 32000,
      opus: { frameDuration: 20000, application: 'voip' },
    });
    const src = (this.source = this.ctx.createMediaStreamSource(this.stream));
    this.capture = new AudioWorkletNode(this.ctx, 'chorus-capture', {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      outputChannelCount: [1],
      channelCount: 1,
      channelCountMode: 'explicit',
    });
    this.capture.port.onmessage = (ev) => this._onCaptured(ev.data);
    // A silent sink keeps the capture node pulled by the render graph.
    const sink = this.ctx.createGain();
    sink.gain.value = 0;
    src.connect(this.capture).connect(sink).connect(this.ctx.destination);
  }

  _onCaptured({ pcm, rms }) {
    this.stats.framesCaptured += 1;
    this.stats.micRms = rms;
    if (this.onLevel) this.onLevel(this.muted ? 0 : rms);
    if (rms >= GATE_RMS) this.gate = GATE_HANGOVER_FRAMES;
    else if (this.gate > 0) this.gate -= 1;
    this.loud = !this.gateEnabled || this.gate > 0;
    if (!this.encoder || this.encoder.state !== 'configured') return;
    const data = new AudioData({
      format: 'f32-planar',
      sampleRate: SAMPLE_RATE,
      numberOfFrames: pcm.length,
      numberOfChannels: 1,
      timestamp: Math.round((this.sampleClock * 1e6) / SAMPLE_RATE),
      data: pcm,
    });
    this.sampleClock += pcm.length;
    this.encoder.encode(data);
    data.close();
  }

  _onEncoded(chunk) {
    this.stats.framesEncoded += 1;
    if (this.muted || !this.loud) {
      this.stats.framesGated += 1;
      return;
    }
    const opus = new Uint8Array(chunk.byteLength);
    chunk.copyTo(opus);
    const ts = Math.round((chunk.timestamp * SAMPLE_RATE) / 1e6);
    if (this.send(packFrame(this.seq, ts, opus))) {
      this.stats.framesSent += 1;
      this.stats.bytesSent += opus.length + HEADER_BYTES;
      this.seq = (this.seq + 1) & 0xffff;
    }
  }

  // Closes the microphone and the encoder (the room audio keeps playing).
  stopMic() {
    if (this.encoder && this.encoder.state !== 'closed') this.encoder.close();
    this.encoder = null;
    if (this.stream) for (const t of this.stream.getTracks()) t.stop();
    this.stream = null;
    this.source?.disconnect();
    this.capture?.disconnect();
    this.source = null;
    this.capture = null;
  }

  get micOn() {
    return !!this.stream;
  }

  setVolume(v) {
    if (this.output) this.output.gain.value = v;
  }

  // The listener's own volume for one member (0: muted for me only).
  setPeerGain(id, gain) {
    this.mixer?.port.postMessage({ type: 'gain', id, gain });
  }

  // Plays the room on another output device where the browser can (AudioContext.setSinkId).
  async setSpeaker(deviceId) {
    if (!this.ctx || typeof this.ctx.setSinkId !== 'function') return false;
    await this.ctx.setSinkId(deviceId);
    return true;
  }

  setMuted(muted) {
    this.muted = muted;
    if (this.stream) for (const t of this.stream.getAudioTracks()) t.enabled = !muted;
  }

  // One received 0x01/0x02 payload from member `from`.
  receive(from, payload) {
    this.stats.framesReceived += 1;
    const f = unpackFrame(payload);
    if (!f || !this.mixer) {
      this.stats.framesBad += 1;
      return;
    }
    let peer = this.peers.get(from);
    if (!peer) peer = this._addPeer(from);
    if (peer.nextSeq !== null) {
      const ahead = (f.seq - peer.nextSeq) & 0xffff;
      const behind = (peer.nextSeq - f.seq) & 0xffff;
      if (behind > 0 && behind <= LATE_WINDOW) {
        this.stats.framesLate += 1; // duplicate or older than what was already decoded
        return;
      }
      // Far behind means the sender restarted its counter: follow it.
      if (ahead > 0 && ahead < 0x8000) this.stats.framesLost += ahead;
    }
    peer.nextSeq = (f.seq + 1) & 0xffff;
    this._jitter(peer, f.timestamp);
    if (peer.decoder.state !== 'configured') return;
    peer.decoder.decode(new EncodedAudioChunk({
      type: 'key',
      timestamp: Math.round((f.timestamp * 1e6) / SAMPLE_RATE),
      data: f.opus,
    }));
  }

  _addPeer(id) {
    const decoder = new AudioDecoder({
      output: (data) => this._onDecoded(id, data),
      error: (e) => {
        this.stats.decodeErrors += 1;
        console.error('chorus: decoder error', e);
        this.peers.delete(id); // a fresh decoder is made on the next frame
      },
    });
    decoder.configure({ codec: 'opus', sampleRate: SAMPLE_RATE, numberOfChannels: 1 });
    const peer = { decoder, nextSeq: null, transit: null, jitter: 0 };
    this.peers.set(id, peer);
    return peer;
  }

  // Interarrival jitter (RFC 3550 section 6.4.1) in ms; the page shows the worst speaker's.
  _jitter(peer, timestamp) {
    const transit = performance.now() - timestamp / (SAMPLE_RATE / 1000);
    if (peer.transit !== null) {
      const d = Math.abs(transit - peer.transit);
      if (d < 1000) peer.jitter += (d - peer.jitter) / 16; // a jump over silence is no jitter
    }
    peer.transit = transit;
    let worst = 0;
    for (const p of this.peers.values()) worst = Math.max(worst, p.jitter);
    this.stats.jitterMs = worst;
  }

  _onDecoded(id, data) {
    const n = data.numberOfFrames;
    const pcm = new Float32Array(n);
    data.copyTo(pcm, { planeIndex: 0, format: 'f32-planar' });
    data.close();
    const s = this.stats;
    s.framesDecoded[id] = (s.framesDecoded[id] || 0) + 1;
    s.framesDecodedTotal += 1;
    this.mixer.port.postMessage({ type: 'pcm', id, pcm }, [pcm.buffer]);
  }

  removePeer(id) {
    const peer = this.peers.get(id);
    if (!peer) return;
    this.peers.delete(id);
    if (peer.decoder.state !== 'closed') peer.decoder.close();
    this.mixer?.port.postMessage({ type: 'remove', id });
  }

  _onMixerStats(m) {
    if (m.type !== 'stats') return;
    const s = this.stats;
    s.outputRms = m.rms;
    s.outputPeak = m.peak;
    if (m.rms > s.outputRmsMax) s.outputRmsMax = m.rms;
    s.voices = m.voices;
  }

  async stop() {
    for (const id of [...this.peers.keys()]) this.removePeer(id);
    this.stopMic();
    if (this.ctx) await this.ctx.close().catch(() => {});
    this.ctx = null;
    this.mixer = null;
    this.output = null;
  }
}
