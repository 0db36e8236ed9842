-- task_list: a page of tasks in creation order. Touches tasks, due, created (reads only).
-- ARGV[1] offset, ARGV[2] how many at most
-- Returns {0, number of tasks in the queue, {json, attempts, due_usec, created_usec}, ...}.
local ids = redis.call('ZRANGE', K_CREATED, tonumber(ARGV[1]), tonumber(ARGV[1]) + tonumber(ARGV[2]) - 1)
local out = {0, redis.call('ZCARD', K_CREATED)}
for _, id in ipairs(ids) do
  local json = redis.call('HGET', K_TASKS, id)
  if json then
    out[#out + 1] = {json, redis.call('HGET', K_ATTEMPTS, id) or '0,0,0,0,0,0,-1,0,0',
                     redis.call('ZSCORE', K_DUE, id) or '0', redis.call('ZSCORE', K_CREATED, id)}
  end
end
return out
