-- put: replace a queue's configuration if nobody changed it since the caller read it (its version),
-- or create it when the caller read none (UpdateQueue creates a missing queue).
-- Touches queue, gone; a change wakes the dispatchers (its rates may allow more now).
-- ARGV[1] the Queue as JSON, ARGV[2] the version the caller read ('' = it read no queue)
-- Returns the queue or {4} changed meanwhile (Code.CHANGED: read again and retry),
-- {3} deleted too recently (Code.RECENTLY_DELETED).
local version = redis.call('HGET', K_QUEUE, 'version')
if ARGV[2] == '' then
  if version then return {4} end
  if redis.call('EXISTS', K_GONE) == 1 then return {3} end
  redis.call('HSET', K_QUEUE, 'config', ARGV[1], 'state', 'RUNNING', 'purge_usec', '0', 'version', '1',
             'created_usec', fmt(now_usec()))
  return queue_reply()
end
if version ~= ARGV[2] then return {4} end
redis.call('HSET', K_QUEUE, 'config', ARGV[1], 'version', fmt(tonumber(version) + 1))
wake(now_usec())
return queue_reply()
