-- get: a queue. Touches queue (reads only).
-- Returns the queue (see queue_reply) or {1} no such queue (Code.NOT_FOUND).
if redis.call('EXISTS', K_QUEUE) == 0 then return {1} end
return queue_reply()
