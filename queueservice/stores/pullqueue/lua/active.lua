-- active: which of many queues hold a task or had a lease in the last hour (cheap, for listings).
-- On a standalone Redis one call covers many queues; on a cluster the store calls it per queue.
-- KEYS: for each queue in turn, its tasks hash and its stats hash (2 keys per queue); reads only.
-- Returns the 1-based positions of the queues where either exists.
local out = {}
for i = 1, #KEYS - 1, 2 do  -- the last key is the clock
  if redis.call('EXISTS', KEYS[i], KEYS[i + 1]) > 0 then out[#out + 1] = (i + 1) / 2 end
end
return out
