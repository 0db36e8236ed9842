-- clear_tombstones: free every tombstoned name of the queue at once (a reset for tests).
-- Touches tombstones.
-- Returns how many names were freed (expired tombstones included).
local n = redis.call('ZCARD', K_TOMBSTONES)
redis.call('DEL', K_TOMBSTONES)
return n
