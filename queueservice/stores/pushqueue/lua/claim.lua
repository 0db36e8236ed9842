-- claim: take up to ARGV[1] due tasks of a running queue for sending, as its rate limits allow: a
-- token bucket of maxBurstSize refilled at maxDispatchesPerSecond, and at most
-- maxConcurrentDispatches claimed at once. A claim lasts the task's dispatch deadline plus ARGV[2]
-- µs; a claim that ran out (its sender died) makes the task due again first.
-- Touches queue (reads), tasks (reads), due, attempts, inflight, bucket, retrying.
-- Returns {0, now, next_usec, the Queue as JSON, {id, json, attempts, claim_until}, ...} or {1} no queue, where
-- next_usec is when claiming again may give something (-1: not before a wake message: the queue is
-- paused, full, or holds nothing).
if redis.call('EXISTS', K_QUEUE) == 0 then return {1} end
local now = now_usec()
for _, id in ipairs(redis.call('ZRANGEBYSCORE', K_INFLIGHT, '-inf', fmt(now))) do
  redis.call('ZREM', K_INFLIGHT, id)
  if redis.call('HEXISTS', K_TASKS, id) == 1 then
    redis.call('ZADD', K_DUE, fmt(now), id)
    redis.call('SADD', K_RETRYING, id)
  end
end
local q = redis.call('HMGET', K_QUEUE, 'config', 'state')
local out = {0, fmt(now), '-1', q[1]}
local rates = cjson.decode(q[1]).rateLimits or {}
local rate = tonumber(rates.maxDispatchesPerSecond) or 500
local burst = tonumber(rates.maxBurstSize) or 100
local concurrent = tonumber(rates.maxConcurrentDispatches) or 1000
local b = redis.call('HMGET', K_BUCKET, 'tokens', 'at_usec')
local tokens, at = tonumber(b[1]) or burst, tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000000)
local room = concurrent - redis.call('ZCARD', K_INFLIGHT)
local want = math.min(tonumber(ARGV[1]), math.floor(tokens), room)
if q[2] == 'RUNNING' and want > 0 then
  local ids = redis.call('ZRANGEBYSCORE', K_DUE, '-inf', fmt(now), 'LIMIT', 0, want)
  for _, id in ipairs(ids) do
    out[#out + 1] = start_attempt(id, now, tonumber(ARGV[2]))
    tokens = tokens - 1
    room = room - 1
  end
end
redis.call('HSET', K_BUCKET, 'tokens', string.format('%.6f', tokens), 'at_usec', fmt(now))
-- When to look again: the next task's due time; for one already due, when a token comes (a
-- resume or a freed slot sends a wake message instead); and when a claim runs out.
local next_usec = -1
local first = redis.call('ZRANGE', K_DUE, 0, 0, 'WITHSCORES')
if #first == 2 then
  next_usec = tonumber(first[2])
  if next_usec <= now then
    if q[2] ~= 'RUNNING' or room <= 0 then
      next_usec = -1
    elseif tokens < 1 and rate > 0 then
      next_usec = now + math.ceil((1 - tokens) * 1000000 / rate)
    end
  end
end
local ends = redis.call('ZRANGE', K_INFLIGHT, 0, 0, 'WITHSCORES')
if #ends == 2 and (next_usec < 0 or tonumber(ends[2]) < next_usec) then next_usec = tonumber(ends[2]) end
out[3] = fmt(next_usec)
return out
