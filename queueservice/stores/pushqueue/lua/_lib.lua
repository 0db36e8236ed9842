-- Shared helpers, prepended to every script in this folder (see redis_helpers/scripts.py).
--
-- Every script gets the keys of one Cloud Tasks queue (one hash tag, one cluster slot), in the
-- order of QueueKeys.all() in keys.py:
--   KEYS[1] queue hash    config (the Queue as JSON), state, purge_usec, version, created_usec
--   KEYS[2] gone string   set while a deleted queue's name may not be created again (PX expiry)
--   KEYS[3] tasks hash    task id -> the Task as JSON
--   KEYS[4] due zset      task id -> when it is next due (µs)
--   KEYS[5] created zset  task id -> when it was created (µs)
--   KEYS[6] tombstones    task id -> when the id of a deleted task is free again (µs)
-- and, last of all KEYS, the clock key (an offset in µs added to Redis TIME; redis_helpers/clock.py).
-- Units: every time is in microseconds since the Unix epoch.
-- Numbers are formatted with %.0f: Lua's tostring would write 1.7e+15.

local K_QUEUE, K_GONE, K_TASKS, K_DUE, K_CREATED, K_TOMBSTONES = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local K_CLOCK = KEYS[#KEYS]
local clock_offset = nil

local function now_usec()
  if clock_offset == nil then
    clock_offset = tonumber(redis.call('GET', K_CLOCK) or '0') or 0
  end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2]) + clock_offset
end

local function fmt(n)
  return string.format('%.0f', n)
end

-- {0, config, state, purge_usec, version} of an existing queue.
local function queue_reply()
  local q = redis.call('HMGET', K_QUEUE, 'config', 'state', 'purge_usec', 'version')
  return {0, q[1], q[2], q[3] or '0', q[4]}
end

-- Remove a task from every index (not its tombstone).
local function drop_task(id)
  redis.call('HDEL', K_TASKS, id)
  redis.call('ZREM', K_DUE, id)
  redis.call('ZREM', K_CREATED, id)
end

-- {0, json, due_usec, created_usec} of an existing task.
local function task_reply(id)
  return {0, redis.call('HGET', K_TASKS, id), redis.call('ZSCORE', K_DUE, id) or '0',
          redis.call('ZSCORE', K_CREATED, id)}
end

local function tombstoned(id, now)
  local until_usec = redis.call('ZSCORE', K_TOMBSTONES, id)
  return until_usec and tonumber(until_usec) > now
end
