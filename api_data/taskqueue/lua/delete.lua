-- delete: remove a task for good, leased or not, live or dead-lettered.
-- Touches tasks, payloads, eta, enq, dead, leased, the tag index, history.
-- ARGV[3] task name
-- Returns {0} deleted or {1} unknown task (Code.NOT_FOUND).
local name = ARGV[3]
local meta = redis.call('HGET', K_TASKS, name)
if not meta then return {1} end
local m = parse_meta(meta)
local member = member_of(m.enq, name)
unindex(member, m)
redis.call('ZREM', K_DEAD, member)
redis.call('HDEL', K_TASKS, name)
redis.call('HDEL', K_PAYLOADS, name)
record(name, 'deleted', m.rc, now_usec())
return {0}
