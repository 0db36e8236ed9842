-- migrate_v1: move up to ARGV[3] tasks of one queue from the first layout (data version 1) into
-- this one, each task whole, live tasks first. The first layout kept a meta record
-- "enqueue_usec,lease_usec,retry_count,alphabet,tag" and the payload in two hashes (tasks,
-- payloads), members of 16 decimal digits and the name, and every live task in eta and in notag
-- or its tag's index; its keys were named with no `v2:`, under the same base (same slot).
-- Touches every key of the queue, the tag indexes, and the first layout's keys of the queue.
-- A name found in both layouts keeps the task of this one.
-- Returns how many tasks the first layout still holds; at 0 its fixed keys are gone.
local OLD_TASKS, OLD_PAYLOADS, OLD_ETA = BASE .. 'tasks', BASE .. 'payloads', BASE .. 'eta'
local OLD_ENQ, OLD_DEAD, OLD_LEASED, OLD_NOTAG = BASE .. 'enq', BASE .. 'dead', BASE .. 'leased', BASE .. 'notag'
local limit = tonumber(ARGV[3])
local moved = 0

local function old_tag_key(tag)
  if tag == '' then return OLD_NOTAG end
  return BASE .. 'tag:' .. tag
end

for _, source in ipairs({OLD_ENQ, OLD_DEAD}) do
  if moved < limit then
    local entries = redis.call('ZRANGE', source, 0, limit - moved - 1, 'WITHSCORES')
    for i = 1, #entries, 2 do
      local old_member, score = entries[i], entries[i + 1]
      local name = string.sub(old_member, 17)
      local meta = redis.call('HGET', OLD_TASKS, name)
      local tag = nil
      if meta then
        local enq, lease, rc, alphabet
        enq, lease, rc, alphabet, tag = string.match(meta, '^(%d+),(%d+),(%d+),(%a),(.*)$')
        if redis.call('HEXISTS', K_TASKS, name) == 0 then
          local m = new_task(name, tonumber(enq), tonumber(lease), alphabet, tag,
                             redis.call('HGET', OLD_PAYLOADS, name) or '', tonumber(rc))
          local member = member_of(m.enq, name)
          if source == OLD_ENQ then
            schedule(member, m, tonumber(redis.call('ZSCORE', OLD_ETA, old_member) or enq))
            redis.call('ZADD', K_ENQ, enq, member)
            local lease_end = redis.call('ZSCORE', OLD_LEASED, old_member)
            if lease_end then redis.call('ZADD', K_LEASED, lease_end, member) end
          else
            redis.call('ZADD', K_DEAD, score, member)
          end
        end
        redis.call('ZREM', old_tag_key(tag), old_member)
      end
      redis.call('ZREM', source, old_member)
      redis.call('ZREM', OLD_ETA, old_member)
      redis.call('ZREM', OLD_LEASED, old_member)
      redis.call('HDEL', OLD_TASKS, name)
      redis.call('HDEL', OLD_PAYLOADS, name)
      moved = moved + 1
    end
  end
end
local left = redis.call('ZCARD', OLD_ENQ) + redis.call('ZCARD', OLD_DEAD)
if left == 0 then
  redis.call('DEL', OLD_TASKS, OLD_PAYLOADS, OLD_ETA, OLD_LEASED, OLD_NOTAG)
end
return left
