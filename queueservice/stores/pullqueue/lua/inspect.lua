-- inspect: one task with its payload, whether it is a dead letter, and the time now.
-- Touches tasks, payloads, dead (reads only).
-- ARGV[3] task name
-- Returns {0, task, dead 0|1, now_usec} or {1} unknown task (Code.NOT_FOUND).
local m = load(ARGV[3])
if not m then return {1} end
local dead = 0
if redis.call('ZSCORE', K_DEAD, member_of(m.enq, ARGV[3])) then dead = 1 end
return {0, task_reply(ARGV[3], m, payload_of(ARGV[3], m)), dead, fmt(now_usec())}
