-- delete: remove a queue with its tasks (none is sent afterwards), and keep its name from being created again for a while.
-- Touches every key of the queue.
-- ARGV[1] how long the name stays taken, in ms (0: it is free at once)
-- Returns {0} or {1} no such queue (Code.NOT_FOUND).
if redis.call('EXISTS', K_QUEUE) == 0 then return {1} end
redis.call('DEL', K_QUEUE, K_TASKS, K_DUE, K_CREATED, K_TOMBSTONES, K_ATTEMPTS, K_INFLIGHT, K_BUCKET,
           K_RETRYING, K_LOG, K_FINISHED, K_FINISHED_TASKS, K_STATS)
local window_ms = tonumber(ARGV[1])
if window_ms > 0 then redis.call('SET', K_GONE, '1', 'PX', window_ms) end
return {0}
