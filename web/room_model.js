// The room as one ChorusClient sees it: members, mic seats, raised hands and who is speaking,
// changed only by the server's messages (docs/PROTOCOL.md). No socket and no timers, so every
// rule is tested with plain objects; web/chorus.js owns the connection and feeds it messages.

export const SEAT_COUNT_MAX = 32;

export class RoomModel {
  constructor() {
    this.members = new Map(); // member id -> {member, user, name, muted, speak, admin}
    this.seats = { count: 0, list: [] }; // list[i] = {seat, member|null, locked, muted}
    this.hands = []; // member ids with a raised hand, in the order they raised it
    this.speaking = []; // member ids, loudest first (the server's last `speaking`)
  }

  // A welcome: `keep` is a resume without a gap on a live client, whose own lists are right as
  // of its last seq; the missed events follow and are applied like live ones. Otherwise the
  // welcome's lists replace everything (a first join, a rejoin, a gap, a reloaded page).
  welcome(w, keep) {
    this.speaking = []; // the server sends the current set right after the welcome
    if (keep) return;
    this.members = new Map((w.members || []).map((m) => [m.member, memberOf(m)]));
    this.seats = seatsOf(w.seats);
    this.hands = Array.isArray(w.hands) ? w.hands.filter(Number.isInteger) : [];
  }

  // Applies one message from the server (seq already checked); returns false for a type that
  // the model does not hold. `left` hands back the member who left (handlers want its name).
  apply(msg) {
    switch (msg.type) {
      case 'joined':
        this.members.set(msg.member, memberOf(msg));
        return true;
      case 'left': {
        const gone = this.members.get(msg.member);
        this.members.delete(msg.member);
        // The server follows with `seats` and `hand` events for its seat and hand.
        return gone || true;
      }
      case 'muted': {
        const m = this.members.get(msg.member);
        if (m) m.muted = !!msg.muted;
        return true;
      }
      case 'seats':
        // The whole list on every change: replaced, never merged.
        this.seats = seatsOf(msg);
        return true;
      case 'hand': {
        const at = this.hands.indexOf(msg.member);
        if (msg.raised && at < 0) this.hands.push(msg.member);
        if (!msg.raised && at >= 0) this.hands.splice(at, 1);
        return true;
      }
      case 'speaking':
        this.speaking = Array.isArray(msg.members) ? msg.members.filter(Number.isInteger) : [];
        return true;
      default:
        return false;
    }
  }

  get seatMode() {
    return this.seats.count > 0;
  }

  // The seat index `member` sits on, or -1.
  seatOf(member) {
    return this.seats.list.findIndex((s) => s.member === member);
  }

  handRaised(member) {
    return this.hands.includes(member);
  }

  // The lowest empty, unlocked seat, or -1 (what `take_seat` without a seat picks).
  freeSeat() {
    return this.seats.list.findIndex((s) => s.member === null && !s.locked);
  }

  // Whether the server relays room audio from `member` (PROTOCOL.md, audio in seat mode):
  // `speak` and not muted, and in seat mode seated on an unmuted seat.
  mayTalk(member, { speak = true, muted = false } = {}) {
    if (!speak || muted) return false;
    if (!this.seatMode) return true;
    const at = this.seatOf(member);
    return at >= 0 && !this.seats.list[at].muted;
  }
}

export function memberOf(m) {
  return {
    member: m.member,
    user: m.user,
    name: m.name ?? m.user,
    muted: !!m.muted,
    speak: m.speak !== false,
    admin: m.admin === true,
  };
}

// A `seats` object from the wire, checked: a count in 0..32 and one entry per seat in order
// (a malformed entry reads as an empty seat, so the row never has holes).
export function seatsOf(raw) {
  const count = Number.isInteger(raw?.count) ? Math.min(Math.max(raw.count, 0), SEAT_COUNT_MAX)
    : 0;
  const list = [];
  for (let i = 0; i < count; i++) {
    const s = Array.isArray(raw.list) ? raw.list[i] : null;
    list.push({
      seat: i,
      member: Number.isInteger(s?.member) ? s.member : null,
      locked: s?.locked === true,
      muted: s?.muted === true,
    });
  }
  return { count, list };
}

// RFC 6464 audio level from a signal's RMS (1.0 = full scale): −dBov as 0 (loudest) to 127
// (silence), what op 0x03 carries.
export function levelFromRms(rms) {
  if (!(rms > 0)) return 127;
  const level = Math.round(-20 * Math.log10(rms));
  return Math.min(127, Math.max(0, level));
}
