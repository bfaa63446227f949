/**
 * Lua scripts of the Redis history store (key layout: see `history-store.ts`).
 *
 * Every script works on ONE account: KEYS[1] is that account's counter key `<P>n`, and the
 * script derives the other key names from its prefix `<P>` = `<keyPrefix>{<accountId>}:`, so
 * every key it touches carries the account's hash tag (same cluster slot) and any client-side
 * key prefix applied to KEYS[1] applies to them too.
 *
 * Postings are 8 bytes: the event's ms offset in its UTC day and its number n, both u32
 * big-endian, so a string of postings sorted bytewise is sorted by (offset, n); a lookup
 * binary-searches it. Lua compares strings with the server's locale (strcoll), so nothing
 * here compares binary strings with `<`: offsets are compared as numbers and event ids byte
 * by byte (`idcmp`), which is also how the client orders them (Buffer.compare).
 */
import { HISTORY_RETENTION_MS } from '../../shared/history/history-store.ts';

/** Postings a day-field keeps packed in its table entry before getting a key of its own. */
export const PACKED_MAX = 24;
/** Postings in one chunk (day, hour or 5-minute string) before it splits into finer ones. */
export const CHUNK_MAX = 512;
/** Average fields per bucket of a linear-hashed table before it grows by one bucket. */
export const TABLE_LOAD = 64;
/** Bodies per body hash (`b:<n div 64>`). */
export const BODY_BUCKET = 64;
/** Bodies longer than this go to their own string key, so body hashes stay listpacks. */
export const BIG_BODY = 1000;

const COMMON = `
local P = string.sub(KEYS[1], 1, #KEYS[1] - 1)
local DAY, HOUR, SLOT = 86400000, 3600000, 300000
local PACKED_MAX, CHUNK_MAX, LOAD, BB = ${PACKED_MAX}, ${CHUNK_MAX}, ${TABLE_LOAD}, ${BODY_BUCKET}
local RET = ${HISTORY_RETENTION_MS}
local floor = math.floor

local function h32(s) return tonumber(string.sub(redis.sha1hex(s), 1, 8), 16) end

-- Linear hashing: a hash spread over buckets <prefix>0 .. <prefix>(2^l + s - 1); the state
-- {l, s, c = fields} lives in the hash <meta>. A table grows one bucket at a time, so it
-- stays a set of small listpack-encoded hashes however many fields it holds.
local function lh_load(meta)
  local v = redis.call('HMGET', meta, 'l', 's', 'c')
  return { meta = meta, l = tonumber(v[1]) or 0, s = tonumber(v[2]) or 0, c = tonumber(v[3]) or 0, fresh = not v[1] }
end
local function lh_index(st, h)
  local m = 2 ^ st.l
  local b = h % m
  if b < st.s then b = h % (2 * m) end
  return b
end
local function lh_key(st, prefix, field) return prefix .. lh_index(st, h32(field)) end
-- the same with the field's hash given (the client computes it: sha1, first 32 bits)
local function lh_keyh(st, prefix, h) return prefix .. lh_index(st, h) end
local function lh_buckets(st) return 2 ^ st.l + st.s end
local function lh_grow(st, prefix)
  while st.c > LOAD * lh_buckets(st) do
    local m = 2 ^ st.l
    local src, dst = prefix .. st.s, prefix .. (st.s + m)
    local all = redis.call('HGETALL', src)
    local moved, gone = {}, {}
    for i = 1, #all, 2 do
      if h32(all[i]) % (2 * m) ~= st.s then
        moved[#moved + 1] = all[i]; moved[#moved + 1] = all[i + 1]; gone[#gone + 1] = all[i]
      end
    end
    for i = 1, #moved, 400 do redis.call('HSET', dst, unpack(moved, i, math.min(i + 399, #moved))) end
    for i = 1, #gone, 200 do redis.call('HDEL', src, unpack(gone, i, math.min(i + 199, #gone))) end
    local at = redis.call('PEXPIRETIME', src)
    if #moved > 0 and at > 0 then redis.call('PEXPIREAT', dst, at) end
    st.s = st.s + 1
    if st.s == m then st.l = st.l + 1; st.s = 0 end
  end
end
local function lh_save(st) redis.call('HSET', st.meta, 'l', st.l, 's', st.s, 'c', st.c) end

-- keys of one account
local function id_prefix() return P .. 'i:' end
local function day_meta(day) return P .. 'd:' .. day end
local function day_prefix(day) return P .. 'x:' .. day .. ':' end
local function zkey(day, f) return P .. 'z:' .. day .. ':' .. f end
local function hkey(hour, f) return P .. 'h:' .. hour .. ':' .. f end
local function skey(slot, f) return P .. 'f:' .. slot .. ':' .. f end
local function body_key(n) return P .. 'b:' .. floor(n / BB) end
local function big_key(n) return P .. 'B:' .. n end

local function body_of(n)
  local v = redis.call('HGET', body_key(n), n % BB)
  if v == '' then v = redis.call('GET', big_key(n)) end
  return v
end
local function id_of(blob) return string.sub(blob, 9, 8 + string.byte(blob, 8)) end
local function idcmp(a, b)
  if a == b then return 0 end
  local la, lb = #a, #b
  for i = 1, math.min(la, lb) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y and -1 or 1 end
  end
  return la < lb and -1 or 1
end

-- sorted posting strings
local function posting(s, i) return struct.unpack('>I4I4', s, i * 8 - 7) end
local function off_at(s, i) return (struct.unpack('>I4', s, i * 8 - 7)) end
-- index of the first posting with offset >= x (#s/8 + 1 when none)
local function lower(s, x)
  local lo, hi = 1, #s / 8 + 1
  while lo < hi do
    local mid = floor((lo + hi) / 2)
    if off_at(s, mid) < x then lo = mid + 1 else hi = mid end
  end
  return lo
end
local function chunk(key) return redis.call('GET', key) or '' end

-- A 5-minute string has no size bound (a busy field gets every event of its 5 minutes), so
-- scripts never copy a long one whole: they binary-search it with GETRANGE probes, read the
-- window they need, and write with APPEND / SETRANGE. Strings up to RANGED bytes are read whole.
local RANGED = CHUNK_MAX * 8 * 4
local function kposting(key, i)
  return struct.unpack('>I4I4', redis.call('GETRANGE', key, i * 8 - 8, i * 8 - 1), 1)
end
-- index of the first posting of key (cnt postings) with offset >= x (cnt + 1 when none)
local function klower(key, cnt, x)
  local lo, hi = 1, cnt + 1
  while lo < hi do
    local mid = floor((lo + hi) / 2)
    if (kposting(key, mid)) < x then lo = mid + 1 else hi = mid end
  end
  return lo
end
-- the postings of key with offsets in [a, b]: the first (or, with back, the last) of them,
-- at least need, plus any sharing the last one's offset; calls fn(off, n) in that order and
-- stops early when fn returns true
-- calls fn(off, n) for the postings of the string s with offsets in [a, b], in order
-- (reversed with back), until fn returns true
local function sscan(s, a, b, back, fn)
  local from, to, step = lower(s, a), #s / 8, 1
  if back then from, to, step = lower(s, b + 1) - 1, 1, -1 end
  for i = from, to, step do
    local off, n = posting(s, i)
    if off < a or off > b or fn(off, n) then return end
  end
end
local function kscan(key, a, b, back, need, fn)
  local len = redis.call('STRLEN', key)
  if len == 0 then return end
  if len <= RANGED then sscan(redis.call('GET', key), a, b, back, fn) return end
  local cnt = len / 8
  local s, from, to, step
  local i = back and (klower(key, cnt, b + 1) - 1) or klower(key, cnt, a)
  local width = math.max(need + 1, 64)
  while i >= 1 and i <= cnt do
    local first, final = i, math.min(cnt, i + width - 1)
    if back then first, final = math.max(1, i - width + 1), i end
    s = redis.call('GETRANGE', key, first * 8 - 8, final * 8 - 1)
    from, to, step = 1, final - first + 1, 1
    if back then from, to, step = to, 1, -1 end
    for j = from, to, step do
      local off, n = posting(s, j)
      if off < a or off > b or fn(off, n) then return end
    end
    i = back and first - 1 or final + 1
    width = width * 2
  end
end

-- P days: score = day, member = day * 2^32 + l * 2^24 + s (the shape of the day's table, as
-- an integer), so one range read lists a query's days in order with what is needed to find
-- their buckets
local DAY_CODE, L_CODE = 4294967296, 16777216
local function day_code(day, l, s) return string.format('%.0f', day * DAY_CODE + l * L_CODE + s) end
local function day_shape(code)
  local day = floor(code / DAY_CODE)
  local rest = code - day * DAY_CODE
  return day, { l = floor(rest / L_CODE), s = rest % L_CODE }
end

-- The state of field f on a day, in its day-table entry: nil (no posting); 'P'..postings;
-- 'Z' (string z:<day>:f); 'H'..24 flags (hour h in h:<hour>:f when flag '0', in twelve
-- 5-minute strings f:<slot>:f when '1').
local function field_state(day, f, h)
  local st = lh_load(day_meta(day))
  if st.c == 0 then return nil, st, nil end
  local bkey = lh_keyh(st, day_prefix(day), h)
  return redis.call('HGET', bkey, f), st, bkey
end
-- calls fn(key, firstOffset, lastOffset) for every chunk key of a 'Z' or 'H' state
local function each_chunk(day, f, v, fn)
  if string.sub(v, 1, 1) == 'Z' then fn(zkey(day, f), 0, DAY - 1) return end
  for h = 0, 23 do
    if string.sub(v, h + 2, h + 2) == '0' then fn(hkey(day * 24 + h, f), h * HOUR, (h + 1) * HOUR - 1)
    else
      for s = 0, 11 do
        local a = h * HOUR + s * SLOT
        fn(skey(day * 288 + h * 12 + s, f), a, a + SLOT - 1)
      end
    end
  end
end
`;

const PUT = `
-- ARGV: n0, records, then per record (numbered n0+1, n0+2, …): eventId, its hash,
-- eventTimeMs, blob; then groups, then per group: day, field, field hash, postings — the
-- sorted postings of the batch's records under that field that day, as if all were new.
-- Returns {added, duplicates, expired}.
local now = redis.call('TIME')
local nowMs = tonumber(now[1]) * 1000 + floor(tonumber(now[2]) / 1000)
local n0, nrec = tonumber(ARGV[1]), tonumber(ARGV[2])
local idst = lh_load(P .. 'i')
local maxexp = {}   -- keys whose expiry only ever moves later: key -> latest time wanted
local function want_max(key, at) if not maxexp[key] or at > maxexp[key] then maxexp[key] = at end end

local skip = {}     -- numbers of the records not stored (duplicates, past retention)
local bodies = {}   -- body hash -> {field, blob, ...}
local dayevents = {}
local added, dup, stale, last = 0, 0, 0, 0
for k = 1, nrec do
  local p = 3 + (k - 1) * 4
  local id, idh, t, blob = ARGV[p], tonumber(ARGV[p + 1]), tonumber(ARGV[p + 2]), ARGV[p + 3]
  local n = n0 + k
  local ikey = lh_keyh(idst, id_prefix(), idh)
  if t + RET < nowMs then
    -- past retention: a duplicate if still held, else not stored
    if redis.call('HEXISTS', ikey, id) == 1 then dup = dup + 1 else stale = stale + 1 end
    skip[n] = true
  elseif redis.call('HSETNX', ikey, id, n) == 0 then
    dup = dup + 1
    skip[n] = true
  else
    added = added + 1
    idst.c = idst.c + 1
    local day = floor(t / DAY)
    local expires = (day + 1) * DAY + RET
    if expires > last then last = expires end
    dayevents[day] = (dayevents[day] or 0) + 1
    want_max(ikey, expires)
    if #blob > ${BIG_BODY} then
      redis.call('SET', big_key(n), blob, 'PXAT', expires)
      blob = ''
    end
    local bkey = body_key(n)
    local list = bodies[bkey]
    if not list then list = {}; bodies[bkey] = list end
    list[#list + 1] = n % BB; list[#list + 1] = blob
    want_max(bkey, expires)
  end
end
if added == 0 then return { 0, dup, stale } end
for bkey, list in pairs(bodies) do redis.call('HSET', bkey, unpack(list)) end
local function expire_later(key, at) -- GT first: usually the newest event raises it
  if redis.call('PEXPIREAT', key, at, 'GT') == 0 then redis.call('PEXPIREAT', key, at, 'NX') end
end
want_max(KEYS[1], last + DAY)
for key, at in pairs(maxexp) do expire_later(key, at) end
lh_grow(idst, id_prefix())
lh_save(idst)

-- postings of records not stored, dropped
local function filter(s)
  local parts = {}
  for i = 1, #s / 8 do
    local _, n = posting(s, i)
    if not skip[n] then parts[#parts + 1] = string.sub(s, i * 8 - 7, i * 8) end
  end
  return table.concat(parts)
end
-- two sorted posting strings merged: each posting of add is placed by binary search and the
-- runs of s between them are copied whole, so merging a batch into a long string costs
-- #add searches, not a step per posting of s
local function merge(s, add)
  if #s == 0 then return add end
  local cs, ca = #s / 8, #add / 8
  local o1, n1 = posting(s, cs)
  local o2, n2 = posting(add, 1)
  if o2 > o1 or (o2 == o1 and n2 > n1) then return s .. add end   -- the usual case
  local parts, from = {}, 1   -- from: the first posting of s not copied yet
  for j = 1, ca do
    local x, xn = posting(add, j)
    local lo, hi = from, cs + 1
    while lo < hi do
      local mid = floor((lo + hi) / 2)
      local o, n = posting(s, mid)
      if o < x or (o == x and n < xn) then lo = mid + 1 else hi = mid end
    end
    if lo > from then parts[#parts + 1] = string.sub(s, from * 8 - 7, lo * 8 - 8) end
    parts[#parts + 1] = string.sub(add, j * 8 - 7, j * 8)
    from = lo
  end
  if from <= cs then parts[#parts + 1] = string.sub(s, from * 8 - 7) end
  return table.concat(parts)
end
-- add merged into the 5-minute string key (created with expiry at when new): appended in the
-- usual case, else merged into a window read from the end of the string, grown until it
-- holds add's first posting (out-of-order postings are recent: a window or two, not a
-- binary search of GETRANGE probes per group)
local function slot_add(key, add, at)
  local len = redis.call('STRLEN', key)
  if len == 0 then redis.call('SET', key, add, 'PXAT', at) return end
  local o2, n2 = posting(add, 1)
  local width = math.max(#add * 2, 2048)
  while true do
    local from = math.max(0, len - width)
    local tail = redis.call('GETRANGE', key, from, -1)
    local ol, nl = posting(tail, #tail / 8)
    if o2 > ol or (o2 == ol and n2 > nl) then redis.call('APPEND', key, add) return end
    local o1, n1 = posting(tail, 1)
    if from == 0 or o2 > o1 or (o2 == o1 and n2 > n1) then
      redis.call('SETRANGE', key, from, merge(tail, add))
      return
    end
    width = width * 4
  end
end
-- consecutive runs of a sorted posting string by offset / width: {{index, substring}, ...}
local function runs(s, width)
  local out = {}
  local start, cur = 1, nil
  for i = 1, #s / 8 do
    local k = floor(off_at(s, i) / width)
    if cur ~= nil and k ~= cur then
      out[#out + 1] = { cur, string.sub(s, start * 8 - 7, (i - 1) * 8) }
      start = i
    end
    cur = k
  end
  if cur ~= nil then out[#out + 1] = { cur, string.sub(s, start * 8 - 7) } end
  return out
end
local function write_slots(day, f, s) -- s: postings of one hour, into 5-minute strings
  for _, run in ipairs(runs(s, SLOT)) do
    local slot = day * 288 + run[1]
    redis.call('SET', skey(slot, f), run[2], 'PXAT', (slot + 1) * SLOT + RET)
  end
end
local function write_hours(day, f, s) -- s: postings of one day; returns the hour flags
  local flags = {}
  for h = 1, 24 do flags[h] = '0' end
  for _, run in ipairs(runs(s, HOUR)) do
    local hour = day * 24 + run[1]
    if #run[2] / 8 <= CHUNK_MAX then
      redis.call('SET', hkey(hour, f), run[2], 'PXAT', (hour + 1) * HOUR + RET)
    else
      write_slots(day, f, run[2])
      flags[run[1] + 1] = '1'
    end
  end
  return table.concat(flags)
end
local table_exp = {} -- day-table buckets touched: key -> expiry
local function add_postings(day, st, f, h, add, expires)
  local bkey = lh_keyh(st, day_prefix(day), h)
  table_exp[bkey] = expires
  local cur = redis.call('HGET', bkey, f)
  local tag = cur and string.sub(cur, 1, 1)
  if not cur or tag == 'P' then
    if not cur then st.c = st.c + 1 end
    local s = merge(cur and string.sub(cur, 2) or '', add)
    if #s / 8 <= PACKED_MAX then
      redis.call('HSET', bkey, f, 'P' .. s)
    elseif #s / 8 <= CHUNK_MAX then
      redis.call('SET', zkey(day, f), s, 'PXAT', expires)
      redis.call('HSET', bkey, f, 'Z')
    else
      redis.call('HSET', bkey, f, 'H' .. write_hours(day, f, s))
    end
  elseif tag == 'Z' then
    local key = zkey(day, f)
    local s = merge(chunk(key), add)
    if #s / 8 <= CHUNK_MAX then
      redis.call('SET', key, s, 'PXAT', expires)
    else
      redis.call('DEL', key)
      redis.call('HSET', bkey, f, 'H' .. write_hours(day, f, s))
    end
  else
    local flags, changed = string.sub(cur, 2), false
    for _, run in ipairs(runs(add, HOUR)) do
      local hh = run[1]
      local hour = day * 24 + hh
      if string.sub(flags, hh + 1, hh + 1) == '0' then
        local key = hkey(hour, f)
        local s = merge(chunk(key), run[2])
        if #s / 8 <= CHUNK_MAX then
          redis.call('SET', key, s, 'PXAT', (hour + 1) * HOUR + RET)
        else
          redis.call('DEL', key)
          write_slots(day, f, s)
          flags = string.sub(flags, 1, hh) .. '1' .. string.sub(flags, hh + 2)
          changed = true
        end
      else
        for _, srun in ipairs(runs(run[2], SLOT)) do
          local slot = day * 288 + srun[1]
          slot_add(skey(slot, f), srun[2], (slot + 1) * SLOT + RET)
        end
      end
    end
    if changed then redis.call('HSET', bkey, f, 'H' .. flags) end
  end
end

local gp = 3 + nrec * 4
local ngroups = tonumber(ARGV[gp])
-- day tables, loaded on first use; a new one starts with as many buckets as the
-- neighbouring day needed (or this batch needs), so steady ingest rarely pays for splits
local tables, fields_of_day = {}, {}
for i = 0, ngroups - 1 do
  local day = tonumber(ARGV[gp + 1 + i * 4])
  fields_of_day[day] = (fields_of_day[day] or 0) + 1
end
local function day_table(day)
  local st = tables[day]
  if st then return st end
  st = lh_load(day_meta(day))
  st.was = (not st.fresh) and day_code(day, st.l, st.s) or nil
  if st.fresh then
    local want = fields_of_day[day]
    for _, other in ipairs({ day - 1, day + 1 }) do
      local c = tonumber(redis.call('HGET', day_meta(other), 'c'))
      if c and c > want then want = c end
    end
    while LOAD * 2 ^ st.l < want do st.l = st.l + 1 end
  end
  tables[day] = st
  return st
end
local filtering = dup + stale > 0
for i = 0, ngroups - 1 do
  local p = gp + 1 + i * 4
  local day, f, fh, add = tonumber(ARGV[p]), ARGV[p + 1], tonumber(ARGV[p + 2]), ARGV[p + 3]
  if filtering then add = filter(add) end
  if #add > 0 then add_postings(day, day_table(day), f, fh, add, (day + 1) * DAY + RET) end
end
for key, at in pairs(table_exp) do redis.call('PEXPIREAT', key, at) end
for day, st in pairs(tables) do
  local expires = (day + 1) * DAY + RET
  lh_grow(st, day_prefix(day))
  lh_save(st)
  redis.call('HINCRBY', st.meta, 'e', dayevents[day] or 0)
  redis.call('PEXPIREAT', st.meta, expires)
  local code = day_code(day, st.l, st.s)
  if code ~= st.was then
    if st.was then redis.call('ZREM', P .. 'days', st.was) end
    redis.call('ZADD', P .. 'days', day, code)
  end
end
-- the account's bookkeeping lives a day longer than anything it points to
expire_later(P .. 'i', last + DAY)
expire_later(P .. 'days', last + DAY)
return { added, dup, stale }
`;

const HAS = `
-- ARGV: per id, the eventId and its hash (the client's, as put takes them: no SHA-1 in Lua).
-- Returns 1/0 per id.
local st = lh_load(P .. 'i')
local out = {}
for i = 1, #ARGV, 2 do
  out[#out + 1] = (st.c > 0 and redis.call('HEXISTS', lh_keyh(st, id_prefix(), tonumber(ARGV[i + 1])), ARGV[i])) or 0
end
return out
`;

const GET = `
-- ARGV: eventId. Returns the blob or nil.
local st = lh_load(P .. 'i')
if st.c == 0 then return false end
local n = redis.call('HGET', lh_key(st, id_prefix(), ARGV[1]), ARGV[1])
if not n then return false end
return body_of(tonumber(n))
`;

const LOOKUP = `
-- ARGV: field, 'B'|'F', startMs, endMs, limit, hasCursor '1'|'0', cursorTimeMs, cursorEventId,
-- field hash. Returns {more, t1, n1, t2, n2, ...}: at most limit events strictly after the
-- cursor in (time, eventId) order (descending for 'B'); more = 1 when another follows.
local f, back = ARGV[1], ARGV[2] == 'B'
local lo, hi, limit = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local ct, cid, fh = tonumber(ARGV[7]), ARGV[8], tonumber(ARGV[9])
local tie = nil   -- the cursor's millisecond: its events are filtered by eventId
if ARGV[6] == '1' then
  if back then
    if ct < lo then return { 0 } end
    if ct <= hi then hi = ct - 1; tie = ct end
  else
    if ct > hi then return { 0 } end
    if ct >= lo then lo = ct + 1; tie = ct end
  end
end

-- where the postings holding offset off of a day in state v are: the key of their chunk, or
-- (state 'P') nil and the postings themselves
local function chunk_at(day, v, off)
  local tag = string.sub(v, 1, 1)
  if tag == 'P' then return nil, string.sub(v, 2) end
  if tag == 'Z' then return zkey(day, f) end
  local h = floor(off / HOUR)
  if string.sub(v, h + 2, h + 2) == '0' then return hkey(day * 24 + h, f) end
  return skey(day * 288 + floor(off / SLOT), f)
end

-- events of the cursor's millisecond that come after the cursor's eventId
local head = {}
if tie then
  local day = floor(tie / DAY)
  local off = tie - day * DAY
  local v = field_state(day, f, fh)
  if v then
    local function consider(_, n)
      local blob = body_of(n)
      if blob then
        local id = id_of(blob)
        local c = idcmp(id, cid)
        if (back and c < 0) or (not back and c > 0) then head[#head + 1] = { tie, n, id } end
      end
    end
    local key, s = chunk_at(day, v, off)
    if key then kscan(key, off, off, false, 0, consider)
    else
      for i = lower(s, off), #s / 8 do
        local o, n = posting(s, i)
        if o ~= off then break end
        consider(o, n)
      end
    end
  end
end

-- then the following milliseconds, chunk by chunk in the query's order, until want postings
-- (plus every posting sharing the last one's millisecond) are collected
local want = limit + 1 - #head
local found_t, found_n = {}, {}  -- the postings found: times and numbers
local function taker(day)
  local base, need = day * DAY, want - #found_t
  local got, last = 0, -1
  return function(off, n)
    if got >= need and off ~= last then return true end
    got = got + 1; last = off
    found_t[#found_t + 1] = base + off; found_n[#found_n + 1] = n
  end
end
local function take(s, day, a, b) sscan(s, a, b, back, taker(day)) end -- packed postings s
local function take_key(key, day, a, b) kscan(key, a, b, back, want - #found_t, taker(day)) end
-- calls fn(index, a, b) for each width-wide piece of [a, b] in the query's order
local function pieces(a, b, width, fn)
  local first, last, step = floor(a / width), floor(b / width), 1
  if back then first, last, step = last, first, -1 end
  for i = first, last, step do
    if #found_t >= want then return end
    fn(i, math.max(a, i * width), math.min(b, (i + 1) * width - 1))
  end
end
local function take_day(day, v, a, b)
  local tag = string.sub(v, 1, 1)
  if tag == 'P' then take(string.sub(v, 2), day, a, b)
  elseif tag == 'Z' then take_key(zkey(day, f), day, a, b)
  else
    pieces(a, b, HOUR, function(h, ha, hb)
      if string.sub(v, h + 2, h + 2) == '0' then take_key(hkey(day * 24 + h, f), day, ha, hb)
      else pieces(ha, hb, SLOT, function(s, sa, sb) take_key(skey(day * 288 + s, f), day, sa, sb) end) end
    end)
  end
end

if want > 0 and lo <= hi then
  -- the days holding events, with their tables' shapes, in one read
  local days
  if back then days = redis.call('ZREVRANGEBYSCORE', P .. 'days', floor(hi / DAY), floor(lo / DAY))
  else days = redis.call('ZRANGEBYSCORE', P .. 'days', floor(lo / DAY), floor(hi / DAY)) end
  for _, code in ipairs(days) do
    if #found_t >= want then break end
    local day, st = day_shape(tonumber(code))
    local v = redis.call('HGET', lh_keyh(st, day_prefix(day), fh), f)
    if v then take_day(day, v, math.max(lo, day * DAY) - day * DAY, math.min(hi, (day + 1) * DAY - 1) - day * DAY) end
  end
end

-- The postings found are in time order already: only runs of one millisecond need their
-- eventIds (read from the bodies) for their order. The client reads the page's bodies.
local function by_id(x, y) if back then return idcmp(x[3], y[3]) > 0 end return idcmp(x[3], y[3]) < 0 end
local out, emitted, dropped = { 0 }, 0, false
local function emit(t, n)
  emitted = emitted + 1
  if emitted <= limit then out[#out + 1] = t; out[#out + 1] = n end
end
table.sort(head, by_id)
for _, h in ipairs(head) do emit(h[1], h[2]) end
local i = 1
while i <= #found_t and emitted <= limit do
  local j = i
  while j < #found_t and found_t[j + 1] == found_t[i] do j = j + 1 end
  if j == i then
    emit(found_t[i], found_n[i])
  else
    local run = {}
    for k = i, j do
      local blob = body_of(found_n[k])
      if blob then run[#run + 1] = { found_t[k], found_n[k], id_of(blob) } else dropped = true end
    end
    table.sort(run, by_id)
    for _, r in ipairs(run) do emit(r[1], r[2]) end
  end
  i = j + 1
end
out[1] = (emitted > limit or (dropped and #found_t >= want)) and 1 or 0
return out
`;

const PURGE_EVENTS = `
-- ARGV: day, cutOffset, max. Deletes up to max events of the day with offset < cutOffset:
-- body, id entry and '*' posting. Returns {removed, more}.
local day, cut, max = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local v, st, bkey = field_state(day, '*', h32('*'))
if not v then return { 0, 0 } end
local idst = lh_load(P .. 'i')
local removed = 0
-- forgets the first postings of s below cut (as many as max allows); returns what is left
local function forget(s)
  local k = math.min(lower(s, cut) - 1, max - removed)
  for i = 1, k do
    local _, n = posting(s, i)
    local blob = body_of(n)
    if blob then
      local id = id_of(blob)
      if redis.call('HDEL', lh_key(idst, id_prefix(), id), id) == 1 then idst.c = idst.c - 1 end
    end
    redis.call('HDEL', body_key(n), n % BB)
    redis.call('DEL', big_key(n))
  end
  removed = removed + k
  return string.sub(s, k * 8 + 1), k
end
if string.sub(v, 1, 1) == 'P' then
  redis.call('HSET', bkey, '*', 'P' .. forget(string.sub(v, 2)))
else
  each_chunk(day, '*', v, function(key, a)
    if removed >= max or a >= cut then return end
    -- only the postings this call may forget are read (a 5-minute string can be long)
    local len = redis.call('STRLEN', key)
    if len == 0 then return end
    local _, k = forget(redis.call('GETRANGE', key, 0, (max - removed) * 8 - 1))
    if k == 0 then return end
    if k * 8 >= len then redis.call('DEL', key)
    else redis.call('SET', key, redis.call('GETRANGE', key, k * 8, -1), 'KEEPTTL') end
  end)
end
lh_save(idst)
if removed > 0 then redis.call('HINCRBY', st.meta, 'e', -removed) end
return { removed, removed >= max and 1 or 0 }
`;

const PURGE_FIELDS = `
-- ARGV: day, cutOffset, firstBucket, buckets, the day's member of P days. Trims every field
-- of the day's table in buckets [firstBucket, firstBucket + buckets) to offsets >= cutOffset
-- (deleting the whole day once cutOffset covers it). Returns the next bucket, or -1 when
-- the day is done.
local day, cut, first, count = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local st = lh_load(day_meta(day))
local whole = cut >= DAY
local total = lh_buckets(st)
local function trim(key, a, b) -- drops offsets < cut from the chunk spanning [a, b]
  if a >= cut then return end
  if b < cut then redis.call('DEL', key) return end
  local s = redis.call('GET', key)
  if not s then return end
  local k = lower(s, cut) - 1
  if k == #s / 8 then redis.call('DEL', key)
  elseif k > 0 then redis.call('SET', key, string.sub(s, k * 8 + 1), 'KEEPTTL') end
end
local dead = 0
for b = first, math.min(first + count, total) - 1 do
  local bkey = day_prefix(day) .. b
  local all = redis.call('HGETALL', bkey)
  for i = 1, #all, 2 do
    local f, v = all[i], all[i + 1]
    if string.sub(v, 1, 1) == 'P' then
      if not whole then
        local s = string.sub(v, 2)
        local k = lower(s, cut) - 1
        if k == #s / 8 then
          redis.call('HDEL', bkey, f)
          dead = dead + 1
        elseif k > 0 then redis.call('HSET', bkey, f, 'P' .. string.sub(s, k * 8 + 1)) end
      end
    else
      each_chunk(day, f, v, trim)
    end
  end
  if whole then redis.call('DEL', bkey) end
end
if dead > 0 then
  st.c = st.c - dead
  redis.call('HSET', st.meta, 'c', st.c)
end
if first + count < total then return first + count end
if whole then
  redis.call('DEL', st.meta)
  redis.call('ZREM', P .. 'days', ARGV[5])
end
return -1
`;

function script(body: string): string {
  return COMMON + body;
}

/** Script sources by name; the store registers each with ioredis `defineCommand`. */
export const SCRIPTS = {
  put: script(PUT),
  has: script(HAS),
  get: script(GET),
  lookup: script(LOOKUP),
  purgeEvents: script(PURGE_EVENTS),
  purgeFields: script(PURGE_FIELDS),
} as const;
export type ScriptName = keyof typeof SCRIPTS;
