-- Shared helpers, prepended to every script in this folder (see queueservice/scripts.py).
--
-- Every script gets the same KEYS, all of one queue (one hash tag, one cluster slot),
-- in the order of QueueKeys.all() in keys.py:
--   KEYS[1] tasks hash     name -> meta record
--   KEYS[2] payloads hash  name -> payload bytes
--   KEYS[3] eta zset       live tasks by the µs time they are next available
--   KEYS[4] enq zset       live tasks by enqueue time (µs)
--   KEYS[5] dead zset      dead-lettered tasks by the µs time they were set aside
--   KEYS[6] stats hash     lease counters: 60 one-second and 60 one-minute ring buckets
--   KEYS[7] leased zset    tasks whose lease was not handed back, by lease end (µs)
--   KEYS[8] history stream task transitions, capped, expires a day after the last one
--   KEYS[9] tombstones zset recently deleted names by the µs time they may be used again
-- and, last of all KEYS, the clock key (an offset in µs added to Redis TIME; see redis_helpers/clock.py),
-- and ARGV[1] = the queue's key base (tag index keys are derived from it, same slot),
--     ARGV[2] = how many history events to keep (0: none).
-- Units: every time is in microseconds since the Unix epoch, read from Redis TIME.
-- A task's meta record is "enqueue_usec,lease_usec,retry_count,alphabet,tag"
-- (alphabet: 's' standard or 'u' URL-safe base64; tag last since it may hold commas).
-- A task's sorted-set member is its 16-digit enqueue time followed by its name.
-- Numbers are formatted with %.0f: Lua's tostring would write 1.7e+15.

local K_TASKS, K_PAYLOADS, K_ETA, K_ENQ, K_DEAD, K_STATS, K_LEASED, K_HISTORY, K_TOMBSTONES =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
-- How many KEYS each queue gives a many-queue script (the length of QueueKeys.all()).
local KEYS_PER_QUEUE = 9
local BASE = ARGV[1]
local HISTORY_MAX = tonumber(ARGV[2])
-- A queue's history disappears a day after its last event, like its counters after an hour.
local HISTORY_TTL_MS = 86400000

-- now_usec() and fmt() come from redis_helpers/lua/_clock.lua.

local function member_of(enq, name)
  return string.format('%016.0f', enq) .. name
end

local function name_of(member)
  return string.sub(member, 17)
end

local function parse_meta(meta)
  local enq, lease, rc, alphabet, tag = string.match(meta, '^(%d+),(%d+),(%d+),(%a),(.*)$')
  return {enq = tonumber(enq), lease = tonumber(lease), rc = tonumber(rc),
          alphabet = alphabet, tag = tag}
end

local function pack_meta(m)
  return fmt(m.enq) .. ',' .. fmt(m.lease) .. ',' .. fmt(m.rc) .. ',' .. m.alphabet .. ',' .. m.tag
end

-- Same rule as QueueKeys.tag in keys.py.
local function tag_key(tag)
  if tag == '' then return BASE .. 'notag' end
  return BASE .. 'tag:' .. tag
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

-- Take a live task out of every index (it stays in the hashes).
local function unindex(member, m)
  redis.call('ZREM', K_ETA, member)
  redis.call('ZREM', K_ENQ, member)
  redis.call('ZREM', K_LEASED, member)
  redis.call('ZREM', tag_key(m.tag), member)
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

-- Put a dead letter back: available at `now`, retry count 0 (it stays in the hashes throughout).
local function requeue_task(name, m, member, now)
  redis.call('ZREM', K_DEAD, member)
  m.rc = 0
  m.lease = 0
  redis.call('HSET', K_TASKS, name, pack_meta(m))
  redis.call('ZADD', K_ETA, fmt(now), member)
  redis.call('ZADD', K_ENQ, fmt(m.enq), member)
  redis.call('ZADD', tag_key(m.tag), fmt(now), member)
  record(name, 'requeued', 0, now)
end
