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

-- The available tasks to consider next, in order, and whether more may follow: of one tag's
-- index, or of every live task (notag and tagged merged).
local index = nil
local function window()
  if index then
    local batch = redis.call('ZRANGEBYSCORE', index, '-inf', fmt(now), 'LIMIT', 0, want)
    return batch, #batch == want
  end
  local members, _, _, _, more = due_window('-inf', fmt(now), want)
  return members, more
end

if ARGV[5] == 'tag' then
  index = tag_key(ARGV[6])
elseif ARGV[5] == 'first-tag' then
  -- The tag of the first available task that can still be leased.
  while true do
    local head = due_window('-inf', fmt(now), 1)
    if #head == 0 then return {dead, {}} end
    local name = name_of(head[1])
    local m = load(name)
    if not m then  -- an index entry without a task: drop it
      redis.call('ZREM', K_NOTAG, head[1])
      redis.call('ZREM', K_TAGGED, head[1])
    elseif exhausted(m) then
      set_aside(head[1], m, name)
    else
      index = tag_key(m.tag)
      break
    end
  end
end

local full = false
while #leased < want and not full do
  local batch, more = window()
  local members, batch_names = {}, {}
  for _, member in ipairs(batch) do
    if not seen[member] then
      members[#members + 1] = member
      batch_names[#batch_names + 1] = name_of(member)
    end
  end
  if #members == 0 then break end
  -- One read for the candidates' records (small payloads included), one for the large payloads.
  local records = redis.call('HMGET', K_TASKS, unpack(batch_names))
  local metas, large = {}, {}
  for i, name in ipairs(batch_names) do
    if records[i] then
      metas[i] = parse_record(records[i])
      if not metas[i].inline then large[#large + 1] = name end
    end
  end
  local large_payloads = {}
  if #large > 0 then
    local got = redis.call('HMGET', K_PAYLOADS, unpack(large))
    for i, name in ipairs(large) do large_payloads[name] = got[i] or '' end
  end
  for i, member in ipairs(members) do
    if #leased >= want or full then break end
    local name = batch_names[i]
    local m = metas[i]
    if not m then  -- an index entry without a task: drop it
      redis.call('ZREM', K_NOTAG, member)
      redis.call('ZREM', K_TAGGED, member)
      if index then redis.call('ZREM', index, member) end
    elseif exhausted(m) then
      if redis.call('ZSCORE', K_LEASED, member) then record(name, 'lease_expired', m.rc, m.lease) end
      set_aside(member, m, name)
    else
      local payload = m.inline and m.body or large_payloads[name]
      if #leased > 0 and reply_bytes + #payload > max_reply_bytes then
        full = true
      else
        reply_bytes = reply_bytes + #payload
        local ended = m.lease
        m.rc = m.rc + 1
        m.lease = until_usec
        save(name, m)
        schedule(member, m, until_usec)
        -- Still in `leased` from before: that lease ran out without being handed back.
        local expired
        if lease_usec > 0 then
          expired = redis.call('ZADD', K_LEASED, fmt(until_usec), member) == 0
        else
          expired = redis.call('ZREM', K_LEASED, member) == 1
        end
        if expired then record(name, 'lease_expired', m.rc - 1, ended) end
        record(name, 'leased', m.rc, now)
        leased[#leased + 1] = task_reply(name, m, payload)
        seen[member] = true
      end
    end
  end
  -- A window with nothing after it means every available task is handed out or set aside.
  if not more then break end
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
