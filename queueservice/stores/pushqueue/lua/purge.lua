-- purge: mark every task created before now as purged (they will never be sent). Touches queue.
-- Returns the queue or {1} no such queue (Code.NOT_FOUND).
if redis.call('EXISTS', K_QUEUE) == 0 then return {1} end
redis.call('HSET', K_QUEUE, 'purge_usec', fmt(now_usec()))
return queue_reply()
