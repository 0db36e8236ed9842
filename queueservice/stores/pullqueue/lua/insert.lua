-- insert: add a task unless a task of that name is in the queue (live or dead-lettered), or
-- was deleted so recently that its name is still tombstoned.
-- Touches tasks, payloads, notag or tagged and the tag index, enq, history, tombstones (reads
-- only; delete drops the expired ones, so the set holds at most the names deleted within the window).
-- ARGV[3] task name, ARGV[4] payload bytes, ARGV[5] first availability in µs since the epoch
-- (0 = now), ARGV[6] alphabet 's'|'u', ARGV[7] tag ('' = none),
-- ARGV[8] delay in µs counted from now (used when ARGV[5] is 0),
-- ARGV[9] '1' to honour tombstones ('0' when TASK_TOMBSTONE_SECS is 0: names are free at once)
-- Returns {0, task, 1 if the queue held no task before} inserted, {2} name taken (Code.TASK_EXISTS), {6} name tombstoned
-- (Code.TOMBSTONED).
local name = ARGV[3]
if redis.call('HEXISTS', K_TASKS, name) == 1 then
  return {2}
end
local now = now_usec()
local honour_tombstones = ARGV[9] == '1'
if honour_tombstones and tombstoned(name, now) then
  return {6}
end
local eta = tonumber(ARGV[5])
local delay = tonumber(ARGV[8] or '0')
if eta == 0 and delay > 0 then eta = now + delay end
-- The first task of an empty queue: the caller registers the queue again, in case a sweep forgot it.
local was_empty = redis.call('EXISTS', K_TASKS) == 0
local m = new_task(name, now, eta, ARGV[6], ARGV[7], ARGV[4])
local score = now
if eta > 0 then score = eta end
local member = member_of(now, name)
schedule(member, m, score)
redis.call('ZADD', K_ENQ, fmt(now), member)
record(name, 'inserted', 0, now)
return {0, task_reply(name, m, nil), was_empty and 1 or 0}
