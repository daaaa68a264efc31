// Events of the JS client: handlers by type, a promise for the next matching event, and a
// dispatch that a throwing handler cannot break (the protocol state machine runs on).

import { ChorusError } from './wire.js';

export class Emitter {
  constructor() {
    this._handlers = new Map();
  }

  // Returns a function that removes the handler.
  on(type, fn) {
    if (!this._handlers.has(type)) this._handlers.set(type, new Set());
    this._handlers.get(type).add(fn);
    return () => this.off(type, fn);
  }

  off(type, fn) {
    this._handlers.get(type)?.delete(fn);
  }

  // Resolves with the next event of `type` that satisfies `pred`; rejects after timeoutMs.
  once(type, pred = () => true, timeoutMs = 0) {
    return new Promise((resolve, reject) => {
      let timer = null;
      const off = this.on(type, (ev) => {
        if (!pred(ev)) return;
        off();
        if (timer) clearTimeout(timer);
        resolve(ev);
      });
      if (timeoutMs > 0) {
        timer = setTimeout(() => {
          off();
          reject(new ChorusError('timeout', `no '${type}' event within ${timeoutMs} ms`));
        }, timeoutMs);
      }
    });
  }

  _emit(type, ev) {
    const set = this._handlers.get(type);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(ev);
      } catch (err) {
        if (typeof console !== 'undefined') console.error(`chorus: '${type}' handler threw`, err);
      }
    }
  }
}
