-- insert: add a task unless a task of that name is in the queue (live or dead-lettered).
-- KEYS[1] tasks hash, KEYS[2] payloads hash, KEYS[3] eta zset, KEYS[4] enqueued zset
-- ARGV[1] key base of the queue (derives the tag index key, same hash slot)
-- ARGV[2] task name, ARGV[3] payload bytes
-- ARGV[4] first availability in µs since the epoch (0 = now), ARGV[5] alphabet 's'|'u', ARGV[6] tag ('' = none)
-- Returns {0, task} inserted, {2} name taken (Code.TASK_EXISTS).
if redis.call('HEXISTS', KEYS[1], ARGV[2]) == 1 then
  return {2}
end
local now = now_usec()
local eta = tonumber(ARGV[4])
local m = {enq = now, lease = eta, rc = 0, alphabet = ARGV[5], tag = ARGV[6]}
local score = now
if eta > 0 then score = eta end
local member = member_of(now, ARGV[2])
redis.call('HSET', KEYS[1], ARGV[2], pack_meta(m))
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[3], fmt(score), member)
redis.call('ZADD', KEYS[4], fmt(now), member)
redis.call('ZADD', tag_key(ARGV[1], m.tag), fmt(score), member)
return {0, task_reply(ARGV[2], m, nil)}
