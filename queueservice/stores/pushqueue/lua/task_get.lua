-- task_get: one task. Touches tasks, due, created, tombstones (reads only).
-- ARGV[1] task id
-- Returns {0, json, attempts, due_usec, created_usec}, {6} unknown (Code.TASK_NOT_FOUND), {7} deleted or
-- done recently (Code.TASK_GONE).
local id = ARGV[1]
if redis.call('HEXISTS', K_TASKS, id) == 1 then return task_reply(id) end
if tombstoned(id, now_usec()) then return {7} end
return {6}
