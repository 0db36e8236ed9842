-- finish: record the outcome of a sent task, if the sender still holds its claim.
-- Touches queue (reads), tasks, due, created, attempts, inflight, tombstones, retrying, log,
-- finished, finished_tasks, stats.
-- ARGV[1] task id, ARGV[2] the claim's end (µs, as claim answered it), ARGV[3] the answer's HTTP
-- status (-1: none), ARGV[4] 'done' (success or no retries left: the task goes, its id tombstoned
-- for ARGV[6] µs) or 'retry' (due again at ARGV[5] µs), ARGV[7] the attempt's latency (µs) and
-- ARGV[8] its histogram bucket, ARGV[9] how long a finished task stays visible (µs; 0: not kept),
-- ARGV[10] how many finished tasks the queue keeps at most.
-- The dispatch is counted in stats whatever happens; the rest only while the claim is held.
-- Returns {0} or {8} the claim is no longer held (Code.CLAIM_LOST: the task was deleted or run again).
local id = ARGV[1]
local status = tonumber(ARGV[3])
local class = 'dnone'
if status >= 0 then class = 'd' .. math.floor(status / 100) .. 'xx' end
redis.call('HINCRBY', K_STATS, class, 1)
redis.call('HINCRBY', K_STATS, 'l' .. ARGV[8], 1)
redis.call('HINCRBY', K_STATS, 'lsum', ARGV[7])
if tonumber(redis.call('ZSCORE', K_INFLIGHT, id) or '-1') ~= tonumber(ARGV[2]) then return {8} end
local now = now_usec()
-- A queue at its concurrency limit had due tasks waiting for this slot: wake the dispatchers.
local config = redis.call('HGET', K_QUEUE, 'config')
if config and redis.call('ZCARD', K_DUE) > 0 then
  local rates = cjson.decode(config).rateLimits or {}
  if redis.call('ZCARD', K_INFLIGHT) >= (tonumber(rates.maxConcurrentDispatches) or 1000) then wake(now) end
end
redis.call('ZREM', K_INFLIGHT, id)
local a = parse_attempts(redis.call('HGET', K_ATTEMPTS, id))
if status >= 0 then a.responses = a.responses + 1 end
if status >= 0 and status < 500 then a.below500 = a.below500 + 1 end
a.response = now
a.status = status
local log = append_log(redis.call('HGET', K_LOG, id), a.dispatch, now, status)
if ARGV[4] == 'done' then
  local outcome = 'dropped'
  if status >= 200 and status < 300 then outcome = 'succeeded' end
  redis.call('HINCRBY', K_STATS, outcome, 1)
  local keep = tonumber(ARGV[9])
  if keep > 0 then
    redis.call('ZADD', K_FINISHED, fmt(now), id)
    redis.call('HSET', K_FINISHED_TASKS, id, '{"task":' .. redis.call('HGET', K_TASKS, id) ..
      ',"attempts":"' .. pack_attempts(a) .. '","log":"' .. log .. '"' ..
      ',"created":' .. (redis.call('ZSCORE', K_CREATED, id) or '0') .. ',"finished":' .. fmt(now) ..
      ',"outcome":"' .. outcome .. '"}')
    local old = redis.call('ZRANGEBYSCORE', K_FINISHED, '-inf', fmt(now - keep), 'LIMIT', 0, 100)
    local over = redis.call('ZCARD', K_FINISHED) - tonumber(ARGV[10])
    if over > 0 then
      for _, gone in ipairs(redis.call('ZRANGE', K_FINISHED, 0, over - 1)) do old[#old + 1] = gone end
    end
    for _, gone in ipairs(old) do
      redis.call('ZREM', K_FINISHED, gone)
      redis.call('HDEL', K_FINISHED_TASKS, gone)
    end
  end
  drop_task(id)
  local window = tonumber(ARGV[6])
  if window > 0 then
    redis.call('ZADD', K_TOMBSTONES, fmt(now + window), id)
    local ttl_ms = math.ceil(window / 1000)
    if redis.call('PTTL', K_TOMBSTONES) < ttl_ms then redis.call('PEXPIRE', K_TOMBSTONES, ttl_ms) end
  end
  return {0}
end
redis.call('HINCRBY', K_STATS, 'retries', 1)
redis.call('HSET', K_ATTEMPTS, id, pack_attempts(a))
redis.call('HSET', K_LOG, id, log)
redis.call('SADD', K_RETRYING, id)
redis.call('ZADD', K_DUE, ARGV[5], id)
return {0}
