-- list: live tasks in enqueue order, without payloads. Touches tasks, enq.
-- ARGV[3] how many tasks at most
-- Returns {task, ...}.
local members = redis.call('ZRANGE', K_ENQ, 0, tonumber(ARGV[3]) - 1)
local out = {}
for _, member in ipairs(members) do
  local name = name_of(member)
  local meta = redis.call('HGET', K_TASKS, name)
  if meta then out[#out + 1] = task_reply(name, parse_meta(meta), nil) end
end
return out
