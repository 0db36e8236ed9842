-- create: add a queue unless one of that name exists or was deleted too recently.
-- Touches queue, gone.
-- ARGV[1] the Queue as JSON, ARGV[2] its state (RUNNING or PAUSED)
-- Returns the queue (see queue_reply) or {2} it exists (Code.EXISTS), {3} deleted too recently
-- (Code.RECENTLY_DELETED).
if redis.call('EXISTS', K_QUEUE) == 1 then return {2} end
if redis.call('EXISTS', K_GONE) == 1 then return {3} end
redis.call('HSET', K_QUEUE, 'config', ARGV[1], 'state', ARGV[2], 'purge_usec', '0', 'version', '1',
           'created_usec', fmt(now_usec()))
return queue_reply()
