// AudioWorklet processors for the Chorus page, on the audio rendering thread.
// chorus-capture: cuts the microphone into 20 ms (960-sample, 48 kHz) frames for the encoder.
// chorus-mixer: one small PCM jitter buffer per speaker (prefill, bounded latency) mixed into
// the output, with level statistics posted back so the page can show and test what it plays.

const FRAME = 960; // 20 ms at 48 kHz
const REPORT_BLOCKS = 38; // ~100 ms of 128-sample render quanta

class CaptureProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.buf = new Float32Array(FRAME);
    this.fill = 0;
  }

  process(inputs) {
    const input = inputs[0];
    const ch = input && input[0];
    if (!ch) return true;
    let i = 0;
    while (i < ch.length) {
      const n = Math.min(ch.length - i, FRAME - this.fill);
      this.buf.set(ch.subarray(i, i + n), this.fill);
      this.fill += n;
      i += n;
      if (this.fill === FRAME) {
        let e = 0;
        for (let k = 0; k < FRAME; k++) e += this.buf[k] * this.buf[k];
        const frame = this.buf;
        this.port.postMessage({ pcm: frame, rms: Math.sqrt(e / FRAME) }, [frame.buffer]);
        this.buf = new Float32Array(FRAME);
        this.fill = 0;
      }
    }
    return true;
  }
}

// One speaker's PCM queue: chunks of Float32Array consumed from the front.
class Voice {
  constructor() {
    this.chunks = [];
    this.offset = 0; // read position in chunks[0]
    this.buffered = 0; // samples queued
    this.playing = false;
    this.underruns = 0;
    this.dropped = 0;
    this.played = 0;
    this.gain = 1; // the listener's volume for this speaker
  }

  push(pcm, prefill, maxBuffered) {
    this.chunks.push(pcm);
    this.buffered += pcm.length;
    // Bound the latency: beyond maxBuffered, drop the oldest audio back to the prefill level.
    if (this.buffered > maxBuffered) this.skip(this.buffered - prefill);
  }

  skip(n) {
    this.dropped += n;
    while (n > 0 && this.chunks.length) {
      const avail = this.chunks[0].length - this.offset;
      const k = Math.min(avail, n);
      this.offset += k;
      this.buffered -= k;
      n -= k;
      if (this.offset === this.chunks[0].length) {
        this.chunks.shift();
        this.offset = 0;
      }
    }
  }

  // Adds up to out.length samples into out; returns how many were mixed.
  mixInto(out) {
    let i = 0;
    while (i < out.length && this.chunks.length) {
      const c = this.chunks[0];
      const n = Math.min(out.length - i, c.length - this.offset);
      const g = this.gain;
      for (let k = 0; k < n; k++) out[i + k] += c[this.offset + k] * g;
      i += n;
      this.offset += n;
      this.buffered -= n;
      if (this.offset === c.length) {
        this.chunks.shift();
        this.offset = 0;
      }
    }
    this.played += i;
    return i;
  }
}

class MixerProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const o = (options && options.processorOptions) || {};
    this.prefill = o.prefill || 3 * FRAME; // start a speaker once 60 ms are queued
    this.maxBuffered = o.maxBuffered || 12 * FRAME; // never more than 240 ms behind
    this.voices = new Map();
    this.gains = new Map(); // member id -> volume the listener chose (0 = muted for me)
    this.mix = new Float32Array(128);
    this.blocks = 0;
    this.energy = 0;
    this.samples = 0;
    this.peak = 0;
    this.port.onmessage = (ev) => this.onMessage(ev.data);
  }

  onMessage(m) {
    if (m.type === 'pcm') {
      let v = this.voices.get(m.id);
      if (!v) this.voices.set(m.id, (v = new Voice()));
      v.gain = this.gains.get(m.id) ?? 1;
      v.push(m.pcm, this.prefill, this.maxBuffered);
    } else if (m.type === 'gain') {
      this.gains.set(m.id, m.gain);
      const v = this.voices.get(m.id);
      if (v) v.gain = m.gain;
    } else if (m.type === 'remove') {
      this.voices.delete(m.id);
    }
  }

  process(_inputs, outputs) {
    const out = outputs[0];
    const n = out[0].length;
    if (this.mix.length !== n) this.mix = new Float32Array(n);
    const mix = this.mix;
    mix.fill(0);
    for (const v of this.voices.values()) {
      if (!v.playing) {
        if (v.buffered < this.prefill) continue;
        v.playing = true;
      }
      if (v.mixInto(mix) < n) {
        v.playing = false; // ran dry: re-prime before playing again
        v.underruns += 1;
      }
    }
    let e = 0;
    for (let i = 0; i < n; i++) {
      // Soft limit so several loud speakers do not clip harshly.
      const x = mix[i];
      const y = x > 0.9 ? 0.9 + (x - 0.9) / (1 + (x - 0.9) * 10) : x < -0.9
        ? -0.9 + (x + 0.9) / (1 - (x + 0.9) * 10) : x;
      mix[i] = y;
      e += y * y;
      const a = y < 0 ? -y : y;
      if (a > this.peak) this.peak = a;
    }
    this.energy += e;
    this.samples += n;
    for (const ch of out) ch.set(mix);
    if (++this.blocks >= REPORT_BLOCKS) this.report();
    return true;
  }

  report() {
    const voices = {};
    for (const [id, v] of this.voices) {
      voices[id] = { buffered: v.buffered, played: v.played, underruns: v.underruns,
        dropped: v.dropped, playing: v.playing };
    }
    this.port.postMessage({ type: 'stats', rms: Math.sqrt(this.energy / this.samples),
      peak: this.peak, voices });
    this.blocks = 0;
    this.energy = 0;
    this.samples = 0;
    this.peak = 0;
  }
}

registerProcessor('chorus-capture', CaptureProcessor);
registerProcessor('chorus-mixer', MixerProcessor);
