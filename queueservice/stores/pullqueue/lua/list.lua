-- list: live tasks in enqueue order, with or without payloads. Touches tasks, enq (and
-- payloads when asked).
-- ARGV[3] how many tasks at most, ARGV[4] '1' to include payloads, ARGV[5] payload bytes at most
-- in one answer when they are included (at least one task is answered)
-- Returns {task, ...}.
local members = redis.call('ZRANGE', K_ENQ, 0, tonumber(ARGV[3]) - 1)
local with_payloads = ARGV[4] == '1'
local max_bytes = tonumber(ARGV[5] or '0')
local bytes = 0
local out = {}
for _, member in ipairs(members) do
  local name = name_of(member)
  local meta = redis.call('HGET', K_TASKS, name)
  if meta then
    local payload = nil
    if with_payloads then
      payload = redis.call('HGET', K_PAYLOADS, name) or ''
      bytes = bytes + #payload
      if #out > 0 and bytes > max_bytes then break end
    end
    out[#out + 1] = task_reply(name, parse_meta(meta), payload)
  end
end
return out
