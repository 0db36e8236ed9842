-- purge: delete up to ARGV[3] tasks of the queue (live, then dead-lettered), oldest first.
-- Called repeatedly by the admin API so that a large queue is purged in bounded steps.
-- Touches every key of the queue and the tag indexes.
-- ARGV[3] how many tasks at most in this step
-- Returns {deleted_now, remaining}.
local limit = tonumber(ARGV[3])
local deleted = 0
for _, source in ipairs({K_ENQ, K_DEAD}) do
  if deleted < limit then
    local members = redis.call('ZRANGE', source, 0, limit - deleted - 1)
    for _, member in ipairs(members) do
      local name = name_of(member)
      local m = load(name)
      if m then
        unindex(member, m)
        forget_task(name, m)
      else
        redis.call('ZREM', source, member)
      end
      redis.call('ZREM', K_DEAD, member)
      deleted = deleted + 1
    end
  end
end
local remaining = redis.call('HLEN', K_TASKS)
if remaining == 0 then
  redis.call('DEL', K_LEASED)
end
if deleted > 0 then record('*', 'purged', 0, now_usec()) end
return {deleted, remaining}
