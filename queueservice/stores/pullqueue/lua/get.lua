-- get: read one task with its payload. Touches tasks, payloads.
-- ARGV[3] task name
-- Returns {0, task} or {1} unknown task (Code.NOT_FOUND).
local meta = redis.call('HGET', K_TASKS, ARGV[3])
if not meta then return {1} end
return {0, task_reply(ARGV[3], parse_meta(meta), redis.call('HGET', K_PAYLOADS, ARGV[3]))}
