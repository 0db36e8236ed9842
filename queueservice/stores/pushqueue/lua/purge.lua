-- purge: delete up to ARGV[1] tasks created before the queue's purge time, setting that time to now
-- when ARGV[2] is '1' (the first step of a purge). Touches queue, tasks, due, created.
-- Returns {0, deleted_now, left_to_purge} or {1} no such queue (Code.NOT_FOUND).
if redis.call('EXISTS', K_QUEUE) == 0 then return {1} end
if ARGV[2] == '1' then redis.call('HSET', K_QUEUE, 'purge_usec', fmt(now_usec())) end
local purge_usec = redis.call('HGET', K_QUEUE, 'purge_usec')
local ids = redis.call('ZRANGEBYSCORE', K_CREATED, '-inf', purge_usec, 'LIMIT', 0, tonumber(ARGV[1]))
for _, id in ipairs(ids) do drop_task(id) end
return {0, #ids, redis.call('ZCOUNT', K_CREATED, '-inf', purge_usec)}
