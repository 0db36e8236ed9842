-- stats_many: the counts of one or many queues in one call (TaskStore.stats is the one-queue case).
-- On a standalone Redis one call covers many queues; on a cluster the store calls it per queue.
-- KEYS: the KEYS_PER_QUEUE keys of each queue in turn, in the order of QueueKeys.all() (tasks, payloads,
-- notag, tagged, enq, dead, stats, leased, history, tombstones); reads notag, tagged, enq, dead, stats, leased.
-- Returns 7 numbers per queue: {total_tasks, oldest_enqueue_usec, leased_last_minute,
-- leased_last_hour, available_now, dead_lettered, leased_now}.
local now = now_usec()
local second = math.floor(now / 1000000)
local minute = math.floor(second / 60)
local out = {}
for base = 0, #KEYS - 2, KEYS_PER_QUEUE do  -- the last key is the clock
  local k_notag, k_tagged, k_enq, k_dead = KEYS[base + 3], KEYS[base + 4], KEYS[base + 5], KEYS[base + 6]
  local k_stats, k_leased = KEYS[base + 7], KEYS[base + 8]
  do
    local oldest = redis.call('ZRANGE', k_enq, 0, 0, 'WITHSCORES')
    local oldest_usec = 0
    if #oldest == 2 then oldest_usec = tonumber(oldest[2]) end
    local last_minute, last_hour = 0, 0
    local buckets = redis.call('HGETALL', k_stats)
    for i = 1, #buckets, 2 do
      local kind = string.sub(buckets[i], 1, 1)
      local at, n = string.match(buckets[i + 1], '^(%d+):(%d+)$')
      at, n = tonumber(at), tonumber(n)
      if kind == 's' and at > second - 60 then last_minute = last_minute + n end
      if kind == 'm' and at > minute - 60 then last_hour = last_hour + n end
    end
    out[#out + 1] = fmt(redis.call('ZCARD', k_enq))
    out[#out + 1] = fmt(oldest_usec)
    out[#out + 1] = fmt(last_minute)
    out[#out + 1] = fmt(last_hour)
    out[#out + 1] = fmt(redis.call('ZCOUNT', k_notag, '-inf', fmt(now)) + redis.call('ZCOUNT', k_tagged, '-inf', fmt(now)))
    out[#out + 1] = fmt(redis.call('ZCARD', k_dead))
    out[#out + 1] = fmt(redis.call('ZCOUNT', k_leased, '(' .. fmt(now), '+inf'))
  end
end
return out
