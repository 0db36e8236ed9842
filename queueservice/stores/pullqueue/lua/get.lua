-- get: read one task with its payload. Touches tasks, payloads.
-- ARGV[3] task name
-- Returns {0, task} or {1} unknown task (Code.NOT_FOUND).
local m = load(ARGV[3])
if not m then return {1} end
return {0, task_reply(ARGV[3], m, payload_of(ARGV[3], m))}
