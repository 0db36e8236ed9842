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
--   KEYS[7] attempts hash task id -> "dispatches,responses,first_dispatch,last_schedule,last_dispatch,
--                         last_response,last_status,deadline,answers_below_500" (µs; status -1: none)
--   KEYS[8] inflight zset task id -> when its claim runs out (µs)
--   KEYS[9] bucket hash   the queue's token bucket: tokens, at_usec
--   KEYS[10] retrying set ids of due tasks that were sent before
--   KEYS[11] log hash     task id -> its last attempts, "dispatch,response,status;..." (µs)
--   KEYS[12] finished zset id of a task that succeeded or was dropped -> when (µs)
--   KEYS[13] finished_tasks hash  id -> {task, attempts, log, created, finished, outcome} as JSON
--   KEYS[14] stats hash   counters: d2xx..dnone, retries, succeeded, dropped, l<bucket>, lsum
-- and, last of all KEYS, the clock key (an offset in µs added to Redis TIME; redis_helpers/clock.py).
-- Units: every time is in microseconds since the Unix epoch.
-- Numbers are formatted with %.0f: Lua's tostring would write 1.7e+15.

local K_QUEUE, K_GONE, K_TASKS, K_DUE, K_CREATED, K_TOMBSTONES = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local K_ATTEMPTS, K_INFLIGHT, K_BUCKET = KEYS[7], KEYS[8], KEYS[9]
local K_RETRYING, K_LOG, K_FINISHED, K_FINISHED_TASKS, K_STATS = KEYS[10], KEYS[11], KEYS[12], KEYS[13], KEYS[14]
-- How many attempts a task's log keeps (the latest).
local LOG_KEPT = 20
-- now_usec() and fmt() come from redis_helpers/lua/_clock.lua.

-- {0, config, state, purge_usec, version} of an existing queue.
local function queue_reply()
  local q = redis.call('HMGET', K_QUEUE, 'config', 'state', 'purge_usec', 'version')
  return {0, q[1], q[2], q[3] or '0', q[4]}
end

-- A task's attempt log with one more attempt, keeping the last LOG_KEPT. (Not JSON: cjson would
-- write a time in µs as 1.7e+15.)
local function append_log(log, dispatch, response, status)
  local entry = fmt(dispatch) .. ',' .. fmt(response) .. ',' .. fmt(status)
  if not log or log == '' then return entry end
  log = log .. ';' .. entry
  local _, count = string.gsub(log, ';', '')
  if count >= LOG_KEPT then log = string.sub(log, string.find(log, ';', 1, true) + 1) end
  return log
end

-- Tell every dispatcher (keys.WAKE_CHANNEL) that a task of this queue may be due at `due` µs.
local function wake(due)
  redis.call('PUBLISH', 'ct:wake', string.match(K_QUEUE, '{(.*)}') .. ' ' .. fmt(due))
end

-- Remove a task from every index (not its tombstone, nor its finished record).
local function drop_task(id)
  redis.call('HDEL', K_TASKS, id)
  redis.call('HDEL', K_ATTEMPTS, id)
  redis.call('HDEL', K_LOG, id)
  redis.call('SREM', K_RETRYING, id)
  redis.call('ZREM', K_DUE, id)
  redis.call('ZREM', K_CREATED, id)
  redis.call('ZREM', K_INFLIGHT, id)
end

local function parse_attempts(packed)
  local f = {}
  for n in string.gmatch(packed or '0,0,0,0,0,0,-1,0,0', '([^,]+)') do f[#f + 1] = tonumber(n) end
  return {dispatches = f[1], responses = f[2], first = f[3], schedule = f[4], dispatch = f[5],
          response = f[6], status = f[7], deadline = f[8], below500 = f[9] or 0}
end

local function pack_attempts(a)
  return table.concat({fmt(a.dispatches), fmt(a.responses), fmt(a.first), fmt(a.schedule), fmt(a.dispatch),
                       fmt(a.response), fmt(a.status), fmt(a.deadline), fmt(a.below500)}, ',')
end

-- {0, json, attempts, due_usec, created_usec} of an existing task (due 0: being sent now).
local function task_reply(id)
  return {0, redis.call('HGET', K_TASKS, id), redis.call('HGET', K_ATTEMPTS, id) or '0,0,0,0,0,0,-1,0,0',
          redis.call('ZSCORE', K_DUE, id) or '0', redis.call('ZSCORE', K_CREATED, id)}
end

local function tombstoned(id, now)
  local until_usec = redis.call('ZSCORE', K_TOMBSTONES, id)
  return until_usec and tonumber(until_usec) > now
end

-- Claim a task for one attempt now: counted, moved from due to inflight until its dispatch
-- deadline plus `grace` µs. Returns {id, json, attempts, claim_until}.
local function start_attempt(id, now, grace)
  local a = parse_attempts(redis.call('HGET', K_ATTEMPTS, id))
  a.schedule = tonumber(redis.call('ZSCORE', K_DUE, id) or fmt(now))
  a.dispatches = a.dispatches + 1
  a.dispatch = now
  if a.first == 0 then a.first = now end
  local packed = pack_attempts(a)
  redis.call('HSET', K_ATTEMPTS, id, packed)
  local until_usec = now + a.deadline + grace
  redis.call('ZREM', K_DUE, id)
  redis.call('SREM', K_RETRYING, id)
  redis.call('ZADD', K_INFLIGHT, fmt(until_usec), id)
  return {id, redis.call('HGET', K_TASKS, id), packed, fmt(until_usec)}
end
