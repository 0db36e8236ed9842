-- list: live tasks in enqueue order, with or without payloads. Touches tasks, enq (and
-- payloads when asked).
-- ARGV[3] how many tasks at most, ARGV[4] '1' to include payloads
-- Returns {task, ...}.
local members = redis.call('ZRANGE', K_ENQ, 0, tonumber(ARGV[3]) - 1)
local with_payloads = ARGV[4] == '1'
local out = {}
for _, member in ipairs(members) do
  local name = name_of(member)
  local meta = redis.call('HGET', K_TASKS, name)
  if meta then
    local payload = nil
    if with_payloads then payload = redis.call('HGET', K_PAYLOADS, name) end
    out[#out + 1] = task_reply(name, parse_meta(meta), payload)
  end
end
return out
