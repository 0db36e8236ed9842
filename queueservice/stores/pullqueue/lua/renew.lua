-- renew: set the lease of a leased task to now + ARGV[4] µs; 0 hands it back at once.
-- Touches tasks, payloads (read), notag or tagged and the tag index, leased, history.
-- ARGV[3] task name, ARGV[4] new lease length in µs,
-- ARGV[5] the caller's lease end in µs ('' = any live lease)
-- Returns {0, task} renewed, {1} unknown task (Code.NOT_FOUND),
-- {3} the task is not leased or its lease has run out (Code.LEASE_EXPIRED),
-- {4} the caller's lease end is not the current one: another lease holds it (Code.LEASE_MISMATCH).
local name = ARGV[3]
local m = load(name)
if not m then return {1} end
local now = now_usec()
if m.rc == 0 or m.lease <= now then return {3} end
if ARGV[5] ~= '' and tonumber(ARGV[5]) ~= m.lease then return {4} end
local extra = tonumber(ARGV[4])
m.lease = now + extra
local member = member_of(m.enq, name)
save(name, m)
schedule(member, m, m.lease)
if extra == 0 then
  redis.call('ZREM', K_LEASED, member)
  record(name, 'released', m.rc, now)
else
  redis.call('ZADD', K_LEASED, fmt(m.lease), member)
  record(name, 'renewed', m.rc, now)
end
return {0, task_reply(name, m, payload_of(name, m))}
