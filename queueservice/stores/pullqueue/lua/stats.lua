-- stats: counts of a queue at this moment. Touches eta, enq, stats, dead, leased (reads only).
-- Returns {total_tasks, oldest_enqueue_usec (0 if empty), leased_last_minute, leased_last_hour,
--          available_now, dead_lettered, leased_now}.
local now = now_usec()
local total = redis.call('ZCARD', K_ETA)
local oldest = redis.call('ZRANGE', K_ENQ, 0, 0, 'WITHSCORES')
local oldest_usec = 0
if #oldest == 2 then oldest_usec = tonumber(oldest[2]) end
local second = math.floor(now / 1000000)
local minute = math.floor(second / 60)
local last_minute, last_hour = 0, 0
local buckets = redis.call('HGETALL', K_STATS)
for i = 1, #buckets, 2 do
  local kind = string.sub(buckets[i], 1, 1)
  local at, n = string.match(buckets[i + 1], '^(%d+):(%d+)$')
  at, n = tonumber(at), tonumber(n)
  if kind == 's' and at > second - 60 then last_minute = last_minute + n end
  if kind == 'm' and at > minute - 60 then last_hour = last_hour + n end
end
local available = redis.call('ZCOUNT', K_ETA, '-inf', fmt(now))
local leased_now = redis.call('ZCOUNT', K_LEASED, '(' .. fmt(now), '+inf')
return {fmt(total), fmt(oldest_usec), fmt(last_minute), fmt(last_hour), fmt(available),
        fmt(redis.call('ZCARD', K_DEAD)), fmt(leased_now)}
