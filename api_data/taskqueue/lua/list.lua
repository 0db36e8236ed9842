-- list: the live tasks of a queue in enqueue order, without payloads.
-- KEYS[1] tasks hash, KEYS[2] enqueued zset
-- ARGV[1] how many tasks at most
-- Returns {task, ...}.
local members = redis.call('ZRANGE', KEYS[2], 0, tonumber(ARGV[1]) - 1)
local out = {}
for _, member in ipairs(members) do
  local name = name_of(member)
  local meta = redis.call('HGET', KEYS[1], name)
  if meta then out[#out + 1] = task_reply(name, parse_meta(meta), nil) end
end
return out
