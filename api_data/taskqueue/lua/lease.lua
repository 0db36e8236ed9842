-- lease: hand out up to ARGV[3] available tasks, earliest availability first (ties by enqueue time).
-- Each leased task's lease ends at now + ARGV[4] µs and its retry count grows by one.
-- A task already leased ARGV[7] times is moved to the dead letters instead.
-- Cost: O(log N) per task handed out or set aside; the queue is never scanned. A task leased
-- for 0 s stays available (scored now, after every other available task), so it is skipped
-- when the window is read again.
-- Touches every key of the queue and the tag indexes.
-- ARGV[3] how many tasks, ARGV[4] lease length in µs
-- ARGV[5] 'any' | 'tag' (only tag ARGV[6]) | 'first-tag' (the tag of the first available task)
-- ARGV[6] tag, ARGV[7] maximum leases per task (0 = unlimited)
-- ARGV[8] most payload bytes in one reply: past it the lease hands out fewer tasks (at least one)
-- Returns {dead_lettered_count, {task, ...}} with payloads.
local now = now_usec()
local want = tonumber(ARGV[3])
local lease_usec = tonumber(ARGV[4])
local max_leases = tonumber(ARGV[7])
local max_reply_bytes = tonumber(ARGV[8])
local until_usec = now + lease_usec
local leased, names, seen, dead, reply_bytes = {}, {}, {}, 0, 0

-- A task leased max_leases times already goes to the dead letters instead.
local function set_aside(member, m, name)
  unindex(member, m)
  redis.call('ZADD', K_DEAD, fmt(now), member)
  record(name, 'dead_lettered', m.rc, now)
  dead = dead + 1
end

local function exhausted(m)
  return max_leases > 0 and m.rc >= max_leases
end

local index = K_ETA
if ARGV[5] == 'tag' then
  index = tag_key(ARGV[6])
elseif ARGV[5] == 'first-tag' then
  -- The tag of the first available task that can still be leased.
  while true do
    local head = redis.call('ZRANGEBYSCORE', K_ETA, '-inf', fmt(now), 'LIMIT', 0, 1)
    if #head == 0 then return {dead, {}} end
    local name = name_of(head[1])
    local m = parse_meta(redis.call('HGET', K_TASKS, name))
    if exhausted(m) then
      set_aside(head[1], m, name)
    else
      index = tag_key(m.tag)
      break
    end
  end
end

local full = false
while #leased < want and not full do
  local batch = redis.call('ZRANGEBYSCORE', index, '-inf', fmt(now), 'LIMIT', 0, want)
  local fresh = 0
  for _, member in ipairs(batch) do
    if #leased >= want or full then break end
    if not seen[member] then
      fresh = fresh + 1
      local name = name_of(member)
      local meta = redis.call('HGET', K_TASKS, name)
      if not meta then
        redis.call('ZREM', index, member)
      else
        local m = parse_meta(meta)
        -- Still in `leased` with an end in the past: the previous lease ran out.
        if redis.call('ZSCORE', K_LEASED, member) then
          record(name, 'lease_expired', m.rc, m.lease)
        end
        if exhausted(m) then
          set_aside(member, m, name)
        else
          local size = redis.call('HSTRLEN', K_PAYLOADS, name)
          if #leased > 0 and reply_bytes + size > max_reply_bytes then
            full = true
          else
            reply_bytes = reply_bytes + size
            m.rc = m.rc + 1
            m.lease = until_usec
            redis.call('HSET', K_TASKS, name, pack_meta(m))
            redis.call('ZADD', K_ETA, fmt(until_usec), member)
            redis.call('ZADD', tag_key(m.tag), fmt(until_usec), member)
            if lease_usec > 0 then
              redis.call('ZADD', K_LEASED, fmt(until_usec), member)
            else
              redis.call('ZREM', K_LEASED, member)
            end
            record(name, 'leased', m.rc, now)
            leased[#leased + 1] = task_reply(name, m, nil)
            names[#names + 1] = name
            seen[member] = true
          end
        end
      end
    end
  end
  -- Nothing new in this window: every available task is handed out or set aside.
  if fresh == 0 or #batch < want then break end
end

if #leased > 0 then
  local payloads = redis.call('HMGET', K_PAYLOADS, unpack(names))
  for i, task in ipairs(leased) do task[7] = payloads[i] end
  local second = math.floor(now / 1000000)
  local minute = math.floor(second / 60)
  for _, bucket in ipairs({{'s' .. fmt(second % 60), second}, {'m' .. fmt(minute % 60), minute}}) do
    local old = redis.call('HGET', K_STATS, bucket[1])
    local count = #leased
    if old then
      local at, n = string.match(old, '^(%d+):(%d+)$')
      if tonumber(at) == bucket[2] then count = count + tonumber(n) end
    end
    redis.call('HSET', K_STATS, bucket[1], fmt(bucket[2]) .. ':' .. fmt(count))
  end
  redis.call('PEXPIRE', K_STATS, 3660000)
end
return {dead, leased}
