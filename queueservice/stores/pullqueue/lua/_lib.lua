-- Shared helpers, prepended to every script in this folder (see queueservice/scripts.py).
--
-- Every script gets the same KEYS, all of one queue (one hash tag, one cluster slot),
-- in the order of QueueKeys.all() in keys.py:
--   KEYS[1] tasks hash      name -> record (below)
--   KEYS[2] payloads hash   name -> payload, only for payloads longer than INLINE_PAYLOAD_BYTES
--   KEYS[3] notag zset      live untagged tasks by the µs time they are next available
--   KEYS[4] tagged zset     live tagged tasks, likewise (notag and tagged hold every live task once)
--   KEYS[5] enq zset        live tasks by enqueue time (µs)
--   KEYS[6] dead zset       dead-lettered tasks by the µs time they were set aside
--   KEYS[7] stats hash      lease counters: 60 one-second and 60 one-minute ring buckets
--   KEYS[8] leased zset     tasks whose lease was not handed back, by lease end (µs)
--   KEYS[9] history stream  task transitions, capped, expires a day after the last one
--   KEYS[10] tombstones zset recently deleted names by the µs time they may be used again
-- and, last of all KEYS, the clock key (an offset in µs added to Redis TIME; see redis_helpers/clock.py),
-- and ARGV[1] = the queue's key base (tag index keys are derived from it, same slot),
--     ARGV[2] = how many history events to keep (0: none).
-- Units: every time is in microseconds since the Unix epoch, read from Redis TIME.
--
-- Memory shapes this layout (README, "Redis memory per task"): a task is one hash entry (its record,
-- which holds a small payload too) and two sorted-set entries (its availability index and enq);
-- a tagged task has one more, in its tag's index.
-- A task's record: enqueue time (8 digits), lease time (9 digits), kind, retry count, ':', the
-- tag's length, ':', the tag, then the payload if it is inline. Kind 's' or 'u' is the producer's
-- base64 alphabet (standard, URL-safe) with the payload inline; 'S' or 'U' the same with the
-- payload in the payloads hash.
-- A task's sorted-set member is its enqueue time in 8 digits followed by its name.
-- Digits are base 94 in printable ASCII ('!' .. '~'), most significant first, so fixed-width
-- encodings sort as the numbers do; 8 digits hold µs times until 2163, 9 any up to 2^53.
-- Numbers are formatted with %.0f: Lua's tostring would write 1.7e+15.

local K_TASKS, K_PAYLOADS, K_NOTAG, K_TAGGED, K_ENQ, K_DEAD, K_STATS, K_LEASED, K_HISTORY, K_TOMBSTONES =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
-- How many KEYS each queue gives a many-queue script (the length of QueueKeys.all()).
local KEYS_PER_QUEUE = 10
local BASE = ARGV[1]
local HISTORY_MAX = tonumber(ARGV[2])
-- A queue's history disappears a day after its last event, like its counters after an hour.
local HISTORY_TTL_MS = 86400000
-- Same as INLINE_PAYLOAD_BYTES in keys.py.
local INLINE_PAYLOAD_BYTES = 1024

-- now_usec() and fmt() come from redis_helpers/lua/_clock.lua.

local function encode_time(usec, width)
  local digits = {}
  for i = width, 1, -1 do
    local digit = usec % 94
    digits[i] = string.char(33 + digit)
    usec = (usec - digit) / 94
  end
  return table.concat(digits)
end

local function decode_time(text, first, last)
  local usec = 0
  for i = first, last do usec = usec * 94 + string.byte(text, i) - 33 end
  return usec
end

local function member_of(enq, name)
  return encode_time(enq, 8) .. name
end

local function name_of(member)
  return string.sub(member, 9)
end

-- A record's fields: {enq, lease, rc, alphabet, tag, inline (bool), body (the inline payload or '')}.
local function parse_record(record)
  local rc, tag_length, at = string.match(record, '^(%d+):(%d+):()', 19)
  local kind = string.sub(record, 18, 18)
  local tag_end = at + tonumber(tag_length)
  return {enq = decode_time(record, 1, 8), lease = decode_time(record, 9, 17), rc = tonumber(rc),
          alphabet = string.lower(kind), inline = kind == 's' or kind == 'u',
          tag = string.sub(record, at, tag_end - 1), body = string.sub(record, tag_end)}
end

local function pack_record(m)
  local kind = m.inline and m.alphabet or string.upper(m.alphabet)
  return encode_time(m.enq, 8) .. encode_time(m.lease, 9) .. kind .. fmt(m.rc) .. ':' .. #m.tag .. ':' ..
         m.tag .. m.body
end

-- Store a new task (retry count `rc`, 0 if nil), its payload inline or in the payloads hash; returns its fields.
local function new_task(name, enq, lease, alphabet, tag, payload, rc)
  local m = {enq = enq, lease = lease, rc = rc or 0, alphabet = alphabet, tag = tag,
             inline = #payload <= INLINE_PAYLOAD_BYTES, body = payload}
  if not m.inline then
    redis.call('HSET', K_PAYLOADS, name, payload)
    m.body = ''
  end
  redis.call('HSET', K_TASKS, name, pack_record(m))
  return m
end

-- The record of `name`, parsed, or nil.
local function load(name)
  local record = redis.call('HGET', K_TASKS, name)
  if not record then return nil end
  return parse_record(record)
end

local function save(name, m)
  redis.call('HSET', K_TASKS, name, pack_record(m))
end

local function payload_of(name, m)
  if m.inline then return m.body end
  return redis.call('HGET', K_PAYLOADS, name) or ''
end

-- Remove a task's record and payload.
local function forget_task(name, m)
  redis.call('HDEL', K_TASKS, name)
  if not m.inline then redis.call('HDEL', K_PAYLOADS, name) end
end

-- The index of the tasks carrying `tag` ('' = untagged). Same rule as QueueKeys.tag in keys.py.
local function tag_key(tag)
  if tag == '' then return K_NOTAG end
  return BASE .. 'v2:tag:' .. tag
end

-- Make a live task available at `usec` (scored in its tag's index, and in tagged if it has one).
local function schedule(member, m, usec)
  redis.call('ZADD', tag_key(m.tag), fmt(usec), member)
  if m.tag ~= '' then redis.call('ZADD', K_TAGGED, fmt(usec), member) end
end

-- A task as scripts return it: {name, enqueue_usec, lease_usec, retry_count, alphabet, tag, payload|nil}.
local function task_reply(name, m, payload)
  return {name, fmt(m.enq), fmt(m.lease), fmt(m.rc), m.alphabet, m.tag, payload or false}
end

-- Append one transition to the queue's capped history stream (its expiry is set once a script).
local history_touched = false
local function record(name, event, rc, at_usec)
  if HISTORY_MAX > 0 then
    redis.call('XADD', K_HISTORY, 'MAXLEN', '~', HISTORY_MAX, '*',
               'task', name, 'event', event, 'retry_count', fmt(rc), 'at', fmt(at_usec))
    if not history_touched then
      redis.call('PEXPIRE', K_HISTORY, HISTORY_TTL_MS)
      history_touched = true
    end
  end
end

-- Take a live task out of every index (its record stays).
local function unindex(member, m)
  redis.call('ZREM', tag_key(m.tag), member)
  if m.tag ~= '' then redis.call('ZREM', K_TAGGED, member) end
  redis.call('ZREM', K_ENQ, member)
  redis.call('ZREM', K_LEASED, member)
end

-- True when (score a, member a) comes before (score b, member b), as Redis orders a sorted set:
-- by score, then by member byte by byte (Lua's `<` on strings follows the server's locale).
local function before(score_a, a, score_b, b)
  if score_a ~= score_b then return score_a < score_b end
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

-- Up to `count` live tasks scored in [lo, hi] of notag and tagged together, in order, starting
-- after `skip_notag` and `skip_tagged` of each: members, scores, how many of notag and of tagged
-- it took, and whether more may follow (false: every task in [lo, hi] past the skipped ones is in).
local function due_window(lo, hi, count, skip_notag, skip_tagged)
  local a = redis.call('ZRANGEBYSCORE', K_NOTAG, lo, hi, 'WITHSCORES', 'LIMIT', skip_notag or 0, count)
  local b = redis.call('ZRANGEBYSCORE', K_TAGGED, lo, hi, 'WITHSCORES', 'LIMIT', skip_tagged or 0, count)
  local members, scores = {}, {}
  local i, j = 1, 1
  while #members < count and (i < #a or j < #b) do
    local take_a = j >= #b
    if i < #a and j < #b then
      take_a = before(tonumber(a[i + 1]), a[i], tonumber(b[j + 1]), b[j])
    end
    if take_a then
      members[#members + 1], scores[#scores + 1] = a[i], tonumber(a[i + 1])
      i = i + 2
    else
      members[#members + 1], scores[#scores + 1] = b[j], tonumber(b[j + 1])
      j = j + 2
    end
  end
  -- More may follow: a range filled the window (it may go on), or this window left some out.
  local more = #a == 2 * count or #b == 2 * count or i < #a or j < #b
  return members, scores, (i - 1) / 2, (j - 1) / 2, more
end

-- How many live tasks are scored in [lo, hi].
local function due_count(lo, hi)
  return redis.call('ZCOUNT', K_NOTAG, lo, hi) + redis.call('ZCOUNT', K_TAGGED, lo, hi)
end

-- True while `name` is reserved by the tombstone of a task deleted recently. A read only: a write
-- before a script's first memory-growing command would let that command past Redis's OOM refusal.
local function tombstoned(name, now)
  local until_usec = redis.call('ZSCORE', K_TOMBSTONES, name)
  return until_usec ~= false and until_usec ~= nil and tonumber(until_usec) > now
end

-- Drop tombstones that have run out (call after the script's memory-growing writes).
local function drop_expired_tombstones(now)
  redis.call('ZREMRANGEBYSCORE', K_TOMBSTONES, '-inf', fmt(now))
end

-- Put a dead letter back: available at `now`, retry count 0 (its record stays throughout).
local function requeue_task(name, m, member, now)
  redis.call('ZREM', K_DEAD, member)
  m.rc = 0
  m.lease = 0
  save(name, m)
  schedule(member, m, now)
  redis.call('ZADD', K_ENQ, fmt(m.enq), member)
  record(name, 'requeued', 0, now)
end
