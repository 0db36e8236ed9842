-- renew: set the lease of a leased task to now + ARGV[3] µs (0 hands it back at once).
-- KEYS[1] tasks hash, KEYS[2] payloads hash, KEYS[3] eta zset
-- ARGV[1] key base of the queue (derives the tag index key), ARGV[2] task name
-- ARGV[3] new lease length in µs, ARGV[4] the caller's lease end in µs ('' = any live lease)
-- Returns {0, task} renewed, {1} unknown task (Code.NOT_FOUND),
-- {3} the task is not leased or its lease has run out (Code.LEASE_EXPIRED),
-- {4} the caller's lease end is not the current one: another lease holds it (Code.LEASE_MISMATCH).
local meta = redis.call('HGET', KEYS[1], ARGV[2])
if not meta then return {1} end
local m = parse_meta(meta)
local now = now_usec()
if m.rc == 0 or m.lease <= now then return {3} end
if ARGV[4] ~= '' and tonumber(ARGV[4]) ~= m.lease then return {4} end
m.lease = now + tonumber(ARGV[3])
local member = member_of(m.enq, ARGV[2])
redis.call('HSET', KEYS[1], ARGV[2], pack_meta(m))
redis.call('ZADD', KEYS[3], fmt(m.lease), member)
redis.call('ZADD', tag_key(ARGV[1], m.tag), fmt(m.lease), member)
return {0, task_reply(ARGV[2], m, redis.call('HGET', KEYS[2], ARGV[2]))}
