-- requeue: put a dead-lettered task back in the queue, available now, with its retry count reset.
-- Touches tasks, notag or tagged and the tag index, enq, dead, history.
-- ARGV[3] task name
-- Returns {0, task} or {1} unknown task (Code.NOT_FOUND), {5} the task is not a dead letter
-- (Code.NOT_DEAD).
local name = ARGV[3]
local m = load(name)
if not m then return {1} end
local member = member_of(m.enq, name)
if not redis.call('ZSCORE', K_DEAD, member) then return {5} end
requeue_task(name, m, member, now_usec())
return {0, task_reply(name, m, nil)}
