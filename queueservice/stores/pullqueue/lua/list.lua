-- list: live tasks in enqueue order, with or without payloads. Touches tasks, enq (and
-- payloads when asked).
-- ARGV[3] how many tasks at most, ARGV[4] '1' to include payloads, ARGV[5] payload bytes at most
-- in one answer when they are included (at least one task is answered)
-- Returns {task, ...}.
local members = redis.call('ZRANGE', K_ENQ, 0, tonumber(ARGV[3]) - 1)
if #members == 0 then return {} end
local with_payloads = ARGV[4] == '1'
local max_bytes = tonumber(ARGV[5] or '0')
local bytes = 0
local out = {}
local names = {}
for i, member in ipairs(members) do names[i] = name_of(member) end
-- Records hold no payload longer than INLINE_PAYLOAD_BYTES: reading them all stays cheap.
local records = redis.call('HMGET', K_TASKS, unpack(names))
for i, name in ipairs(names) do
  if records[i] then
    local m = parse_record(records[i])
    local payload = nil
    if with_payloads then
      payload = payload_of(name, m)
      bytes = bytes + #payload
      if #out > 0 and bytes > max_bytes then break end
    end
    out[#out + 1] = task_reply(name, m, payload)
  end
end
return out
