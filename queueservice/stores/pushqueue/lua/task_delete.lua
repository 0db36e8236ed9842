-- task_delete: remove a task so that it is never sent, and keep its id taken for a while.
-- Touches tasks, due, created, tombstones.
-- ARGV[1] task id, ARGV[2] how long its id stays taken (µs; 0: free at once)
-- Returns {0} or {6} unknown (Code.TASK_NOT_FOUND).
local id = ARGV[1]
if redis.call('HEXISTS', K_TASKS, id) == 0 then return {6} end
drop_task(id)
local window = tonumber(ARGV[2])
if window > 0 then
  local now = now_usec()
  redis.call('ZREMRANGEBYSCORE', K_TOMBSTONES, '-inf', fmt(now))
  redis.call('ZADD', K_TOMBSTONES, fmt(now + window), id)
  local ttl_ms = math.ceil(window / 1000)
  if redis.call('PTTL', K_TOMBSTONES) < ttl_ms then redis.call('PEXPIRE', K_TOMBSTONES, ttl_ms) end
end
return {0}
