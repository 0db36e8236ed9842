-- delete: remove a task for good, leased or not, live or dead-lettered.
-- KEYS[1] tasks hash, KEYS[2] payloads hash, KEYS[3] eta zset, KEYS[4] enqueued zset, KEYS[5] dead zset
-- ARGV[1] key base of the queue (derives the tag index key), ARGV[2] task name
-- Returns {0} deleted or {1} unknown task (Code.NOT_FOUND).
local meta = redis.call('HGET', KEYS[1], ARGV[2])
if not meta then return {1} end
local m = parse_meta(meta)
local member = member_of(m.enq, ARGV[2])
redis.call('ZREM', KEYS[3], member)
redis.call('ZREM', KEYS[4], member)
redis.call('ZREM', KEYS[5], member)
redis.call('ZREM', tag_key(ARGV[1], m.tag), member)
redis.call('HDEL', KEYS[1], ARGV[2])
redis.call('HDEL', KEYS[2], ARGV[2])
return {0}
