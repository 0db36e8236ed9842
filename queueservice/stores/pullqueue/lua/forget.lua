-- forget: drop what is left of idle, empty queues (history, lease counters, leased index).
-- On a standalone Redis one call covers many queues; on a cluster the store calls it per queue.
-- KEYS: the KEYS_PER_QUEUE keys of each queue in turn, in the order of QueueKeys.all() (tasks, payloads,
-- notag, tagged, enq, dead, stats, leased, history, tombstones); touches tasks, dead (reads), stats,
-- leased, history.
-- ARGV[3] idle time in µs: a queue is forgotten when it holds no task (live or dead) and its last
-- history event and last lease are older than that.
-- Returns the 1-based positions of the queues forgotten.
local idle_usec = tonumber(ARGV[3])
local now = now_usec()
local forgotten = {}
for base = 0, #KEYS - 2, KEYS_PER_QUEUE do  -- the last key is the clock
  local k_tasks, k_dead, k_stats = KEYS[base + 1], KEYS[base + 6], KEYS[base + 7]
  local k_leased, k_history = KEYS[base + 8], KEYS[base + 9]
  if redis.call('EXISTS', k_tasks, k_dead) == 0 then
    local last_usec = 0
    local newest = redis.call('XREVRANGE', k_history, '+', '-', 'COUNT', 1)
    if #newest == 1 then
      last_usec = tonumber(string.match(newest[1][1], '^(%d+)')) * 1000
    end
    local buckets = redis.call('HGETALL', k_stats)
    for i = 1, #buckets, 2 do
      if string.sub(buckets[i], 1, 1) == 'm' then
        local at = tonumber(string.match(buckets[i + 1], '^(%d+):'))
        if at * 60000000 + 60000000 > last_usec then last_usec = at * 60000000 + 60000000 end
      end
    end
    if now - last_usec >= idle_usec then
      redis.call('DEL', k_history, k_stats, k_leased)
      forgotten[#forgotten + 1] = base / KEYS_PER_QUEUE + 1
    end
  end
end
return forgotten
