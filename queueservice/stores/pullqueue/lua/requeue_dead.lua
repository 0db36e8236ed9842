-- requeue_dead: put up to ARGV[3] dead letters back, oldest dead-lettered first, in one step.
-- Called repeatedly by the operator tools, so a large dead set is requeued in bounded steps.
-- Touches tasks, notag, tagged, the tag indexes, enq, dead, history.
-- ARGV[3] how many at most in this step
-- Returns {requeued_now, dead_letters_left}.
local members = redis.call('ZRANGE', K_DEAD, 0, tonumber(ARGV[3]) - 1)
local now = now_usec()
local requeued = 0
for _, member in ipairs(members) do
  local name = name_of(member)
  local m = load(name)
  if m then
    requeue_task(name, m, member, now)
    requeued = requeued + 1
  else
    redis.call('ZREM', K_DEAD, member)
  end
end
return {requeued, redis.call('ZCARD', K_DEAD)}
