-- get: read one task with its payload.
-- KEYS[1] tasks hash, KEYS[2] payloads hash
-- ARGV[1] task name
-- Returns {0, task} or {1} unknown task (Code.NOT_FOUND).
local meta = redis.call('HGET', KEYS[1], ARGV[1])
if not meta then return {1} end
return {0, task_reply(ARGV[1], parse_meta(meta), redis.call('HGET', KEYS[2], ARGV[1]))}
