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
local leased, seen, dead, reply_bytes = {}, {}, 0, 0

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
  local members, batch_names = {}, {}
  for _, member in ipairs(batch) do
    if not seen[member] then
      members[#members + 1] = member
      batch_names[#batch_names + 1] = name_of(member)
    end
  end
  if #members == 0 then break end
  -- One read each for the candidates' records and payloads.
  local metas = redis.call('HMGET', K_TASKS, unpack(batch_names))
  local payloads = redis.call('HMGET', K_PAYLOADS, unpack(batch_names))
  for i, member in ipairs(members) do
    if #leased >= want or full then break end
    local name = batch_names[i]
    if not metas[i] then
      redis.call('ZREM', index, member)
    else
      local m = parse_meta(metas[i])
      if exhausted(m) then
        if redis.call('ZSCORE', K_LEASED, member) then record(name, 'lease_expired', m.rc, m.lease) end
        set_aside(member, m, name)
      else
        local payload = payloads[i] or ''
        if #leased > 0 and reply_bytes + #payload > max_reply_bytes then
          full = true
        else
          reply_bytes = reply_bytes + #payload
          local ended = m.lease
          m.rc = m.rc + 1
          m.lease = until_usec
          redis.call('HSET', K_TASKS, name, pack_meta(m))
          redis.call('ZADD', K_ETA, fmt(until_usec), member)
          redis.call('ZADD', tag_key(m.tag), fmt(until_usec), member)
          -- Still in `leased` from before: that lease ran out without being handed back.
          local expired
          if lease_usec > 0 then
            expired = redis.call('ZADD', K_LEASED, fmt(until_usec), member) == 0
          else
            expired = redis.call('ZREM', K_LEASED, member) == 1
          end
          if expired then record(name, 'lease_expired', m.rc - 1, ended) end
          record(name, 'leased', m.rc, now)
          leased[#leased + 1] = task_reply(name, m, payloads[i])
          seen[member] = true
        end
      end
    end
  end
  -- A short window means every available task is handed out or set aside.
  if #batch < want then break end
end

if #leased > 0 then
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
