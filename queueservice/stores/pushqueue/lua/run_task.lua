-- run_task: claim one task for sending now, whatever the queue's state and rate limits (RunTask).
-- Touches tasks (reads), due, attempts, inflight.
-- ARGV[1] task id, ARGV[2] extra µs beyond its dispatch deadline for the claim
-- Returns {0, now, '-1', the Queue as JSON, {id, json, attempts, claim_until}} or {6} unknown task
-- (Code.TASK_NOT_FOUND).
local id = ARGV[1]
if redis.call('HEXISTS', K_TASKS, id) == 0 then return {6} end
local now = now_usec()
return {0, fmt(now), '-1', redis.call('HGET', K_QUEUE, 'config'), start_attempt(id, now, tonumber(ARGV[2]))}
