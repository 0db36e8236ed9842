-- stats: counts of a queue at this moment.
-- KEYS[1] eta zset, KEYS[2] enqueued zset, KEYS[3] stats hash, KEYS[4] dead zset
-- Returns {total_tasks, oldest_enqueue_usec (0 if empty), leased_last_minute, leased_last_hour,
--          available_now, dead_lettered}.
local now = now_usec()
local total = redis.call('ZCARD', KEYS[1])
local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
local oldest_usec = 0
if #oldest == 2 then oldest_usec = tonumber(oldest[2]) end
local second = math.floor(now / 1000000)
local minute = math.floor(second / 60)
local last_minute, last_hour = 0, 0
local buckets = redis.call('HGETALL', KEYS[3])
for i = 1, #buckets, 2 do
  local kind = string.sub(buckets[i], 1, 1)
  local at, n = string.match(buckets[i + 1], '^(%d+):(%d+)$')
  at, n = tonumber(at), tonumber(n)
  if kind == 's' and at > second - 60 then last_minute = last_minute + n end
  if kind == 'm' and at > minute - 60 then last_hour = last_hour + n end
end
local available = redis.call('ZCOUNT', KEYS[1], '-inf', fmt(now))
return {fmt(total), fmt(oldest_usec), fmt(last_minute), fmt(last_hour), fmt(available),
        fmt(redis.call('ZCARD', KEYS[4]))}
