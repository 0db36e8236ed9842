-- set_state: pause or resume a queue. Touches queue; a resume wakes the dispatchers.
-- ARGV[1] RUNNING or PAUSED
-- Returns the queue or {1} no such queue (Code.NOT_FOUND).
if redis.call('EXISTS', K_QUEUE) == 0 then return {1} end
redis.call('HSET', K_QUEUE, 'state', ARGV[1])
if ARGV[1] == 'RUNNING' then wake(now_usec()) end
return queue_reply()
