// The room scripts. Every room script gets KEYS = members hash, user->member hash, meta hash
// (seq, next id, seats, hands), event Stream; ARGV[1] = the room's channel, ARGV[2] = history
// length. A member record is "instance\nsession\nmuted\nuser\nname\nflags" (user and name
// JSON-escaped, so they hold no raw newline; muted is 0, 1, or 2 when an admin muted it; flags is
// 1 speak + 2 admin). Seats and hands are kept in seat_state's text form (core/seats.h): a member
// who leaves stands up and lowers its hand in the script that removes it, so the release happens
// exactly once, right after its `left`. Channel and Stream messages are envelopes
// (core/cluster/cluster_envelope.h):
//   E|seq|kind|member|a1|a2|op|json   a room event (kind j joined, l left, m muted, c chat,
//                                     s seats, h hand); op: the id the node gave the script
//                                     run that wrote it ('' for none), so that a node that
//                                     delivered it itself after a failed reply drops the copy
//   M|member|instance|                a member resumed on `instance`
//   R|instance|                       `instance` re-registered members Redis had lost
#include "core/cluster/scripts.h"

#include <string>

namespace chorus::core::cluster {

namespace {

constexpr std::string_view prelude = R"lua(
local M, U, META, X = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local CH, HIST = ARGV[1], ARGV[2]
local function split(s)
  local t, i = {}, 1
  while true do
    local j = string.find(s, '\n', i, true)
    if not j then t[#t + 1] = string.sub(s, i); return t end
    t[#t + 1] = string.sub(s, i, j - 1)
    i = j + 1
  end
end
-- Every event a script writes is also kept in `emitted`, for a script whose caller must see its
-- own events whichever comes first, the reply or the channel (restore).
local emitted = {}
local OP = ''
local function emit(kind, member, a1, a2, before, after)
  local seq = redis.call('HINCRBY', META, 'seq', 1)
  local env = 'E|' .. seq .. '|' .. kind .. '|' .. member .. '|' .. a1 .. '|' .. a2 .. '|' ..
              OP .. '|' .. before .. seq .. after
  redis.call('XADD', X, 'MAXLEN', '~', HIST, seq .. '-0', 'e', env)
  redis.call('PUBLISH', CH, env)
  emitted[#emitted + 1] = env
  return seq
end
-- Seats "count;member:flags;..." (flags 1 locked + 2 muted) as the list of a seats event.
local function seats_json(text)
  local count, parts = nil, {}
  for item in string.gmatch(text, '[^;]+') do
    if not count then
      count = item
    else
      local m, f = string.match(item, '^(%d+):(%d)$')
      f = tonumber(f)
      local who = m
      if m == '0' then who = 'null' end
      parts[#parts + 1] = '{"seat":' .. #parts .. ',"member":' .. who .. ',"locked":' ..
                          tostring(f % 2 == 1) .. ',"muted":' .. tostring(f >= 2) .. '}'
    end
  end
  return '"count":' .. count .. ',"list":[' .. table.concat(parts, ',') .. ']'
end
-- A member that leaves stands up (seats event by 0), then lowers its hand (hand event by 0).
local function release(id)
  id = tostring(id)
  local seats = redis.call('HGET', META, 'seats')
  if seats then
    local out, changed = {}, false
    for item in string.gmatch(seats, '[^;]+') do
      local m, f = string.match(item, '^(%d+):(%d)$')
      if m == id then item = '0:' .. f; changed = true end
      out[#out + 1] = item
    end
    if changed then
      seats = table.concat(out, ';')
      redis.call('HSET', META, 'seats', seats)
      emit('s', id, seats, '', '{"type":"seats","seq":', ',"by":0,' .. seats_json(seats) .. '}')
    end
  end
  local hands = redis.call('HGET', META, 'hands')
  if hands then
    local kept, lowered = {}, false
    for h in string.gmatch(hands, '%d+') do
      if h == id then lowered = true else kept[#kept + 1] = h end
    end
    if lowered then
      hands = table.concat(kept, ',')
      redis.call('HSET', META, 'hands', hands)
      emit('h', id, hands, '', '{"type":"hand","seq":',
           ',"by":0,"member":' .. id .. ',"raised":false}')
    end
  end
end
local function remove(id, reason, rec)
  local f = split(rec)
  redis.call('HDEL', M, id)
  if redis.call('HGET', U, f[4]) == tostring(id) then redis.call('HDEL', U, f[4]) end
  local seq = emit('l', id, reason, f[1], '{"type":"left","seq":',
                   ',"member":' .. id .. ',"user":"' .. f[4] .. '","reason":"' .. reason .. '"}')
  release(id)
  return seq
end
-- A room without members ends, but its seq and id counters and its Stream linger for a day: a
-- node may still hold the room, and seq must never go back under it. A join revives them; its
-- seats and hands start again as in a new room.
local function ended()
  if redis.call('HLEN', M) == 0 then
    redis.call('DEL', U)
    redis.call('HDEL', META, 'seats', 'hands')
    redis.call('EXPIRE', META, 86400)
    redis.call('EXPIRE', X, 86400)
  end
end
local function revived()
  redis.call('PERSIST', META)
  redis.call('PERSIST', X)
end
)lua";

// ARGV: 3 instance, 4 session, 5 user, 6 name, 7 speak (0|1), 8 room capacity, 9 id epoch,
// 10 admin (0|1), 11 the seats of a new room. Returns {member, seq, {id, record, ...} of the
// others, seats, hands} or {'full'}.
constexpr std::string_view join_body = R"lua(
revived()
redis.call('HSETNX', META, 'seats', ARGV[11])
redis.call('HSETNX', META, 'hands', '')
local old = redis.call('HGET', U, ARGV[5])
local count = redis.call('HLEN', M)
if old then count = count - 1 end
if count >= tonumber(ARGV[8]) then return {'full'} end
if old then
  local rec = redis.call('HGET', M, old)
  if rec then remove(old, 'replaced', rec) else redis.call('HDEL', U, ARGV[5]) end
end
local base = tonumber(ARGV[9]) * 16777216
local id
repeat
  local n = redis.call('HINCRBY', META, 'next', 1)
  if n >= 16777216 then redis.call('HSET', META, 'next', 1); n = 1 end
  id = base + n
until redis.call('HEXISTS', M, id) == 0
local others = redis.call('HGETALL', M)
redis.call('HSET', M, id, ARGV[3] .. '\n' .. ARGV[4] .. '\n0\n' .. ARGV[5] .. '\n' .. ARGV[6] ..
           '\n' .. (tonumber(ARGV[7]) + 2 * tonumber(ARGV[10])))
redis.call('HSET', U, ARGV[5], id)
local speak, admin = 'false', 'false'
if ARGV[7] == '1' then speak = 'true' end
if ARGV[10] == '1' then admin = 'true' end
local seq = emit('j', id, ARGV[3], ARGV[7] .. ARGV[10], '{"type":"joined","seq":',
                 ',"member":' .. id .. ',"user":"' .. ARGV[5] .. '","name":"' .. ARGV[6] ..
                 '","muted":false,"speak":' .. speak .. ',"admin":' .. admin .. '}')
return {id, seq, others, redis.call('HGET', META, 'seats'), redis.call('HGET', META, 'hands')}
)lua";

// ARGV: 3 instance, 4 member, 5 user, 6 session in the token, 7 new session, 8 last_seq or '',
// 9 flags (1 speak + 2 admin). Returns {seq, gap (0|1), {missed envelopes}, {id, record, ...},
// seats, hands} or {'gone'}.
constexpr std::string_view resume_body = R"lua(
local rec = redis.call('HGET', M, ARGV[4])
if not rec then return {'gone'} end
local f = split(rec)
if f[4] ~= ARGV[5] or f[2] ~= ARGV[6] then return {'gone'} end
f[1] = ARGV[3]
f[2] = ARGV[7]
f[6] = ARGV[9]
redis.call('HSET', M, ARGV[4], table.concat(f, '\n'))
redis.call('PUBLISH', CH, 'M|' .. ARGV[4] .. '|' .. ARGV[3] .. '|')
local seq = tonumber(redis.call('HGET', META, 'seq') or '0')
local gap, events = 0, {}
if ARGV[8] == '' then
  gap = 1
else
  local last = tonumber(ARGV[8])
  if last < seq then
    local first = string.format('%.0f', last + 1) .. '-0'
    local entries = redis.call('XRANGE', X, first, '+')
    if #entries == 0 or entries[1][1] ~= first then
      gap = 1
    else
      for _, e in ipairs(entries) do events[#events + 1] = e[2][2] end
    end
  end
end
return {seq, gap, events, redis.call('HGETALL', M), redis.call('HGET', META, 'seats') or '0',
        redis.call('HGET', META, 'hands') or ''}
)lua";

// ARGV: 3 member, 4 reason, 5 instance the member must be on ('' = any), 6 node timeout in ms
// ('' = do not check): the member's node must have been silent that long (it may be back), 7 the
// op id its events carry. Returns the left event's seq, or 0 when the member is not there (gone,
// moved, node alive).
constexpr std::string_view leave_body = R"lua(
OP = ARGV[7] or ''
local rec = redis.call('HGET', M, ARGV[3])
if not rec then return 0 end
local node = split(rec)[1]
if ARGV[5] ~= '' and node ~= ARGV[5] then return 0 end
if ARGV[6] ~= '' then
  local beat = redis.call('ZSCORE', 'chorus:nodes', node)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  if beat and tonumber(beat) > now - tonumber(ARGV[6]) then return 0 end
end
local seq = remove(ARGV[3], ARGV[4], rec)
ended()
return seq
)lua";

// ARGV: 3 kind, 4 member, 5 a1, 6 a2, 7 json before the seq, 8 json after it,
// 9 member whose muted flag changes ('' = none), 10 its new flag (0, 1 muted, 2 muted by an
// admin), 11 the op id the event carries. Returns the seq, or 0 (no such member).
constexpr std::string_view event_body = R"lua(
OP = ARGV[11] or ''
if ARGV[9] ~= '' then
  local rec = redis.call('HGET', M, ARGV[9])
  if not rec then return 0 end
  local f = split(rec)
  f[3] = ARGV[10]
  redis.call('HSET', M, ARGV[9], table.concat(f, '\n'))
end
return emit(ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8])
)lua";

// After a reconnect (Redis restarted, failed over, or this node was cut off). ARGV: 3 instance,
// 4 highest seq this node has seen, 5 its seats, 6 its hands, then (member, user, record)
// triples of the members this node holds. Re-registers them, lifts seq to what the node saw,
// keeps the seats and hands Redis has (or takes the node's when it lost them), and lets go of
// members this node no longer holds. Returns {seq, {id, record, ...}, seats, hands, {the
// envelopes it wrote, in order}}: the reply may reach the node before the channel brings them,
// and the seq in it covers them, so the node applies them from here (the later copies are
// dropped by seq).
constexpr std::string_view restore_body = R"lua(
local seq = tonumber(redis.call('HGET', META, 'seq') or '0')
local seen = tonumber(ARGV[4])
if seen > seq then redis.call('HSET', META, 'seq', string.format('%.0f', seen)) end
redis.call('HSETNX', META, 'seats', ARGV[5])
redis.call('HSETNX', META, 'hands', ARGV[6])
-- The node changed seats or hands on its own while cut off: its members are told what the room
-- has, by 0 (the seats in one event, about one of the node's members; each hand that differs in
-- one event), so that nobody keeps a stale list.
local seats, hands = redis.call('HGET', META, 'seats'), redis.call('HGET', META, 'hands')
if ARGV[7] and seats ~= ARGV[5] then
  emit('s', ARGV[7], seats, '', '{"type":"seats","seq":', ',"by":0,' .. seats_json(seats) .. '}')
end
if hands ~= ARGV[6] then
  local had, has = {}, {}
  for h in string.gmatch(ARGV[6], '%d+') do had[h] = true end
  for h in string.gmatch(hands, '%d+') do has[h] = true end
  for h in string.gmatch(ARGV[6], '%d+') do
    if not has[h] then
      emit('h', h, hands, '', '{"type":"hand","seq":', ',"by":0,"member":' .. h .. ',"raised":false}')
    end
  end
  for h in string.gmatch(hands, '%d+') do
    if not had[h] then
      emit('h', h, hands, '', '{"type":"hand","seq":', ',"by":0,"member":' .. h .. ',"raised":true}')
    end
  end
end
local mine, added = {}, false
for i = 7, #ARGV, 3 do
  local id, user, rec = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  mine[id] = true
  local cur = redis.call('HGET', M, id)
  if not cur or split(cur)[1] == ARGV[3] then
    if not cur then added = true end
    redis.call('HSET', M, id, rec)
    if not redis.call('HGET', U, user) then redis.call('HSET', U, user, id) end
  end
end
local all = redis.call('HGETALL', M)
for i = 1, #all, 2 do
  if split(all[i + 1])[1] == ARGV[3] and not mine[all[i]] then
    remove(all[i], 'timeout', all[i + 1])
  end
end
ended()
-- Members Redis had lost are back: the other nodes fetch the list again.
if added then redis.call('PUBLISH', CH, 'R|' .. ARGV[3] .. '|') end
return {tonumber(redis.call('HGET', META, 'seq') or '0'), redis.call('HGETALL', M),
        redis.call('HGET', META, 'seats') or '0', redis.call('HGET', META, 'hands') or '',
        emitted}
)lua";

// A seat or hand change, worked out by the node from the state it has applied and committed
// only if Redis still has that state (compare and set), so that two nodes racing for one seat
// cannot both win: the loser gets the current state back and works its request out again.
// ARGV: 3 seats expected, 4 hands expected, 5 new seats ('' = unchanged, else '=' .. text),
// 6 new hands (the same), 7 members that must still be in the room (comma-separated),
// 8 seats event member, 9 and 10 its JSON around the seq, 11 hand event member, 12 and 13 its
// JSON. Returns {'ok', seq}, {'stale', seats, hands} or {'gone'}.
constexpr std::string_view seats_body = R"lua(
local seats = redis.call('HGET', META, 'seats') or '0'
local hands = redis.call('HGET', META, 'hands') or ''
if seats ~= ARGV[3] or hands ~= ARGV[4] then return {'stale', seats, hands} end
for id in string.gmatch(ARGV[7], '%d+') do
  if redis.call('HEXISTS', M, id) == 0 then return {'gone'} end
end
local seq = 0
if ARGV[5] ~= '' then
  seats = string.sub(ARGV[5], 2)
  redis.call('HSET', META, 'seats', seats)
  seq = emit('s', ARGV[8], seats, '', ARGV[9], ARGV[10])
end
if ARGV[6] ~= '' then
  hands = string.sub(ARGV[6], 2)
  redis.call('HSET', META, 'hands', hands)
  seq = emit('h', ARGV[11], hands, '', ARGV[12], ARGV[13])
end
return {'ok', seq}
)lua";

std::string compose(std::string_view body) {
    std::string text(prelude);
    text += body;
    return text;
}

}  // namespace

std::string_view room_script_text(room_script script) {
    static const std::string join = compose(join_body);
    static const std::string resume = compose(resume_body);
    static const std::string leave = compose(leave_body);
    static const std::string event = compose(event_body);
    static const std::string restore = compose(restore_body);
    static const std::string seats = compose(seats_body);
    switch (script) {
        case room_script::join:
            return join;
        case room_script::resume:
            return resume;
        case room_script::leave:
            return leave;
        case room_script::event:
            return event;
        case room_script::restore:
            return restore;
        case room_script::seats:
            return seats;
    }
    return {};
}

// ARGV: 1 instance, 2 node timeout (ms). Records this instance as alive now (Redis's clock, so
// nodes need no synchronised clocks) and returns the instances heard from within the timeout.
std::string_view heartbeat_script_text() {
    return R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', 'chorus:nodes', now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', 'chorus:nodes', '-inf', now - 3600000)
return redis.call('ZRANGEBYSCORE', 'chorus:nodes', now - tonumber(ARGV[2]), '+inf')
)lua";
}

// ARGV: 1 the epoch this node knew ('' = none). Member ids are epoch * 2^24 + n. When Redis comes
// back without its data, the first node to notice moves the epoch on, so ids handed out after the
// loss cannot collide with ids that members still hold.
std::string_view epoch_script_text() {
    return R"lua(
local e = redis.call('GET', 'chorus:epoch')
if not e then
  if ARGV[1] == '' then e = 0 else e = (tonumber(ARGV[1]) + 1) % 256 end
  redis.call('SET', 'chorus:epoch', e)
end
return tonumber(e)
)lua";
}

}  // namespace chorus::core::cluster
