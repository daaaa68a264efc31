// The stage of the room page (issue 14): the row of mic seats with their sitters, speaking rings
// (from the server's `speaking` events), lock and mute badges; taking a seat, the raise-hand
// button, and for hosts the seat count, a menu per seat (lock, mute, stand up, put someone on
// it) and the queue of raised hands with "Invite to seat". It draws client.model; app.js calls
// render() after every event that changes it.

import { notice } from './room.js';
import { hue, initials } from './text.js';

const $ = (id) => document.getElementById(id);
const SEAT_CHOICES = [0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 12, 16, 20, 24, 32];
const LOCK_SVG = '<svg viewBox="0 0 24 24" aria-hidden="true"><rect x="5" y="11" width="14" ' +
  'height="10" rx="2"/><path d="M8 11V8a4 4 0 0 1 8 0v3"/></svg>';
const HAND_SVG = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M8 13V5.5a1.5 1.5 0 0 1 ' +
  '3 0V11M11 10V4a1.5 1.5 0 0 1 3 0v6M14 10V5.5a1.5 1.5 0 0 1 3 0V13M17 9.5a1.5 1.5 0 0 1 3 0' +
  'V14a7 7 0 0 1-7 7h-1a6 6 0 0 1-5-2.7L4 14.5a1.5 1.5 0 0 1 2.5-1.7L8 15"/></svg>';
const MUTE_SVG = '<svg viewBox="0 0 24 24" aria-hidden="true"><rect x="9" y="3" width="6" ' +
  'height="11" rx="3"/><path d="M5 11a7 7 0 0 0 14 0M12 18v3M4 4l16 16"/></svg>';

export class SeatView {
  // room: the RoomView (names, the client); canSpeak(): the token allows speaking.
  constructor({ room, canSpeak }) {
    this.room = room;
    this.canSpeak = canSpeak;
    this.menuSeat = -1; // the seat whose host menu is open
  }

  get client() {
    return this.room.client;
  }

  init() {
    const count = $('seat-count');
    count.replaceChildren(...SEAT_CHOICES.map((n) => new Option(n ? String(n) : 'Off', n)));
    count.addEventListener('change', () => this.client?.setSeatCount(Number(count.value)));
    $('hand-btn').addEventListener('click', () => {
      const c = this.client;
      if (c) c.raiseHand(!c.model.handRaised(c.member));
    });
    $('leave-seat-btn').addEventListener('click', () => this.client?.leaveSeat());
    document.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && this.menuSeat >= 0) this.closeMenu();
    });
  }

  // Only the rings follow `speaking` (up to 5 a second): the row is not redrawn, so keyboard
  // focus and an open seat menu stay where they are.
  updateSpeaking() {
    const c = this.client;
    if (!c) return;
    for (const li of $('seat-row').children) ring(li, c.speaking);
  }

  closeMenu() {
    this.menuSeat = -1;
    this.render();
  }

  // ---- drawing ------------------------------------------------------------------------------

  render() {
    const c = this.client;
    const stage = $('stage');
    if (!c || !c.member || !c.seatsSupported) {
      stage.hidden = true;
      return;
    }
    const m = c.model;
    const host = c.admin;
    stage.hidden = !(m.seatMode || host || m.hands.length > 0);
    if (stage.hidden) return;
    if (this.menuSeat >= m.seats.count) this.menuSeat = -1;
    const mine = c.seatOf();
    const count = $('seat-count');
    count.closest('label').hidden = !host;
    if (!count.matches(':focus')) count.value = String(m.seats.count);
    if (![...count.options].some((o) => o.value === String(m.seats.count))) {
      count.append(new Option(String(m.seats.count), m.seats.count));
      count.value = String(m.seats.count);
    }
    const raised = m.handRaised(c.member);
    const hand = $('hand-btn');
    hand.hidden = !this.canSpeak() || mine >= 0;
    hand.setAttribute('aria-pressed', String(raised));
    hand.textContent = raised ? 'Lower hand' : 'Raise hand';
    $('leave-seat-btn').hidden = mine < 0;
    $('seat-state').textContent = !m.seatMode ? 'Seats are off: everyone may talk'
      : mine >= 0 ? `You are on seat ${mine + 1}`
        : raised ? 'Your hand is up: the host can invite you to a seat'
          : 'Listening: take an empty seat or raise your hand';
    $('seat-row').replaceChildren(...m.seats.list.map((s) => this.seatItem(s, mine, host)));
    this.renderHands(host);
  }

  seatItem(s, mine, host) {
    const c = this.client;
    const li = document.createElement('li');
    li.className = 'seat';
    li.dataset.seat = String(s.seat);
    const who = s.member === null ? null : s.member === c.member
      ? { member: c.member, user: c.user, name: c.name } : c.members.get(s.member);
    const name = who ? who.name || who.user : '';
    li.classList.toggle('empty', s.member === null);
    li.classList.toggle('locked', s.locked);
    li.classList.toggle('muted', s.muted);
    li.classList.toggle('self', s.member === c.member);
    if (s.member !== null) li.dataset.member = String(s.member);
    ring(li, c.speaking);

    const btn = document.createElement('button');
    btn.type = 'button';
    btn.className = 'seat-btn';
    const canTake = s.member === null && !s.locked && this.canSpeak() && c.connected;
    btn.disabled = !canTake && !(host && c.connected);
    // Who speaks is announced by the room view ("X is speaking"), not in the seat's name.
    const state = [s.locked ? 'locked' : '', s.muted ? 'muted' : ''].filter(Boolean).join(', ');
    const label = `Seat ${s.seat + 1}: ${name || 'empty'}${state ? `, ${state}` : ''}`;
    // The name is read from hidden text, not aria-label: the initials shown are not a name.
    const spoken = document.createElement('span');
    spoken.className = 'sr-only';
    spoken.textContent = canTake ? `${label}. Take this seat` : host ? `${label}. Seat options`
      : label;
    if (host) {
      btn.setAttribute('aria-expanded', String(this.menuSeat === s.seat));
      btn.setAttribute('aria-haspopup', 'true');
    }
    const face = document.createElement('span');
    face.setAttribute('aria-hidden', 'true');
    if (who) {
      face.className = 'avatar';
      face.style.setProperty('--h', hue(who.user || String(who.member)));
      face.textContent = initials(name);
    } else {
      face.className = 'seat-empty';
      face.innerHTML = s.locked ? LOCK_SVG : '<span>+</span>';
    }
    btn.append(face, spoken);
    btn.addEventListener('click', () => {
      if (host) {
        this.menuSeat = this.menuSeat === s.seat ? -1 : s.seat;
        this.render();
      } else if (canTake) {
        c.takeSeat(s.seat);
      }
    });
    const caption = document.createElement('span');
    caption.className = 'seat-name';
    caption.textContent = name || (s.locked ? 'Locked' : `Seat ${s.seat + 1}`);
    caption.title = caption.textContent;
    const badges = document.createElement('span');
    badges.className = 'seat-badges';
    if (s.locked && who) badges.append(badge('lock', 'Locked', LOCK_SVG));
    if (s.muted) badges.append(badge('mute', 'Seat muted', MUTE_SVG));
    li.append(btn, badges, caption);
    if (host && this.menuSeat === s.seat) li.append(this.seatMenu(s, mine));
    return li;
  }

  // The host's actions on one seat.
  seatMenu(s, mine) {
    const c = this.client;
    const menu = document.createElement('div');
    menu.className = 'seat-menu card';
    menu.setAttribute('role', 'group');
    menu.setAttribute('aria-label', `Seat ${s.seat + 1} options`);
    const act = (cls, label, fn) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = `chip ${cls}`;
      b.textContent = label;
      b.addEventListener('click', () => {
        fn();
        this.closeMenu();
      });
      menu.append(b);
    };
    if (s.member === null && !s.locked && mine < 0) act('take', 'Sit here', () => c.takeSeat(s.seat));
    act('lock', s.locked ? 'Unlock seat' : 'Lock seat', () => c.lockSeat(s.seat, !s.locked));
    act('mute-seat', s.muted ? 'Unmute seat' : 'Mute seat', () => c.muteSeat(s.seat, !s.muted));
    if (s.member !== null) {
      if (s.member === c.member) act('stand', 'Leave seat', () => c.leaveSeat());
      else act('stand', 'Stand up', () => c.standUp(s.member));
    } else {
      // Put someone on this empty seat: anyone who may speak and is not seated here.
      const sel = document.createElement('select');
      sel.className = 'move-select';
      sel.setAttribute('aria-label', `Put someone on seat ${s.seat + 1}`);
      const people = [{ member: c.member, name: `${c.name} (you)` },
        ...[...c.members.values()].filter((m) => m.speak)];
      sel.append(new Option('Put someone here…', ''),
        ...people.map((m) => new Option(m.name || m.user, String(m.member))));
      sel.addEventListener('change', () => {
        if (!sel.value) return;
        c.moveMember(Number(sel.value), s.seat);
        this.closeMenu();
      });
      menu.append(sel);
    }
    return menu;
  }

  renderHands(host) {
    const c = this.client;
    const m = c.model;
    const box = $('hands');
    box.hidden = m.hands.length === 0;
    $('hand-count').textContent = String(m.hands.length);
    const items = m.hands.map((id) => {
      const li = document.createElement('li');
      li.className = 'hand';
      li.dataset.member = String(id);
      const icon = document.createElement('span');
      icon.className = 'hand-icon';
      icon.setAttribute('aria-hidden', 'true');
      icon.innerHTML = HAND_SVG;
      const who = document.createElement('span');
      who.className = 'hand-name';
      who.textContent = this.room.nameOf(id);
      li.append(icon, who);
      if (host) {
        const name = this.room.nameOf(id);
        const seated = m.seatOf(id) >= 0;
        li.append(button('invite-seat', seated ? 'Seated' : 'Invite to seat', name,
          () => this.invite(id), !c.connected || seated || !m.seatMode));
        li.append(button('lower', 'Lower hand', name, () => c.lowerHand(id), !c.connected));
      }
      return li;
    });
    $('hand-list').replaceChildren(...items);
  }

  // Moves `member` onto the lowest empty seat, unlocked first (a host may use a locked one).
  invite(member) {
    const m = this.client.model;
    let seat = m.freeSeat();
    if (seat < 0) seat = m.seats.list.findIndex((s) => s.member === null);
    if (seat < 0) {
      notice('Every seat is taken: stand someone up or add seats first.', true);
      return;
    }
    this.client.moveMember(member, seat);
  }
}

// A seat's speaking ring: its sitter is in the server's speaking set and the seat is not muted.
function ring(li, speaking) {
  const id = Number(li.dataset.member || 0);
  li.classList.toggle('speaking', id > 0 && !li.classList.contains('muted') &&
    speaking.includes(id));
}

function badge(cls, label, svg) {
  const b = document.createElement('span');
  b.className = `seat-badge ${cls}`;
  b.setAttribute('role', 'img');
  b.setAttribute('aria-label', label);
  b.innerHTML = svg;
  return b;
}

// A chip whose visible label is followed by `who` for screen readers ("Invite to seat (Mia)").
function button(cls, label, who, fn, disabled) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = `chip ${cls}`;
  b.textContent = label;
  const hint = document.createElement('span');
  hint.className = 'sr-only';
  hint.textContent = ` (${who})`;
  b.append(hint);
  b.disabled = !!disabled;
  b.addEventListener('click', fn);
  return b;
}
