-- task_create: add a task to an existing queue unless its id is taken or was deleted recently.
-- Touches queue (reads), tasks, due, created, tombstones (reads), finished, finished_tasks; wakes the
-- dispatchers.
-- ARGV[1] task id, ARGV[2] the Task as JSON, ARGV[3] when it is due (µs; 0 = now),
-- ARGV[4] '1' to honour tombstones, ARGV[5] its dispatch deadline (µs)
-- Returns {0, json, attempts, due_usec, created_usec}, {1} no such queue (Code.NOT_FOUND),
-- {5} the id is taken or was deleted recently (Code.TASK_EXISTS).
if redis.call('EXISTS', K_QUEUE) == 0 then return {1} end
local id = ARGV[1]
local now = now_usec()
if redis.call('HEXISTS', K_TASKS, id) == 1 then return {5} end
if ARGV[4] == '1' and tombstoned(id, now) then return {5} end
local due = tonumber(ARGV[3])
if due == 0 or due < now then due = now end
-- Dispatchers must hear of it only when it is the queue's first due time now: a queue already
-- holding an earlier (or equal) task has them coming back for it anyway, so a busy queue costs
-- no message (and no claim from every dispatcher) per task.
local first = redis.call('ZRANGE', K_DUE, 0, 0, 'WITHSCORES')
local earliest = #first == 0 or due < tonumber(first[2])
redis.call('HSET', K_TASKS, id, ARGV[2])
redis.call('ZADD', K_DUE, fmt(due), id)
redis.call('ZADD', K_CREATED, fmt(now), id)
redis.call('HSET', K_ATTEMPTS, id, pack_attempts({dispatches = 0, responses = 0, first = 0, schedule = due,
                                                  dispatch = 0, response = 0, status = -1,
                                                  deadline = tonumber(ARGV[5]), below500 = 0}))
redis.call('ZREM', K_FINISHED, id)
redis.call('HDEL', K_FINISHED_TASKS, id)
if earliest then wake(due) end
return task_reply(id)
