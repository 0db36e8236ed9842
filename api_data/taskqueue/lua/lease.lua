-- lease: hand out up to ARGV[2] available tasks, earliest availability first (ties by enqueue time).
-- Each leased task's lease ends at now + ARGV[3] µs and its retry count grows by one.
-- A task already leased ARGV[6] times is moved to the dead-letter set instead.
-- Cost: O(log N) per task handed out or set aside; the queue is never scanned.
-- KEYS[1] tasks hash, KEYS[2] payloads hash, KEYS[3] eta zset, KEYS[4] enqueued zset,
-- KEYS[5] dead zset, KEYS[6] stats hash
-- ARGV[1] key base of the queue (derives tag index keys, same hash slot)
-- ARGV[2] how many tasks, ARGV[3] lease length in µs
-- ARGV[4] 'any' | 'tag' (only tag ARGV[5]) | 'first-tag' (the tag of the first available task)
-- ARGV[5] tag, ARGV[6] maximum leases per task (0 = unlimited)
-- Returns {dead_lettered_count, {task, ...}} with payloads.
local now = now_usec()
local want = tonumber(ARGV[2])
local lease_usec = tonumber(ARGV[3])
local max_leases = tonumber(ARGV[6])
local index = KEYS[3]
if ARGV[4] == 'tag' then
  index = tag_key(ARGV[1], ARGV[5])
elseif ARGV[4] == 'first-tag' then
  local head = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', fmt(now), 'LIMIT', 0, 1)
  if #head == 0 then return {0, {}} end
  index = tag_key(ARGV[1], parse_meta(redis.call('HGET', KEYS[1], name_of(head[1]))).tag)
end

local until_usec = now + lease_usec
local leased, names, dead = {}, {}, 0
while #leased < want do
  local batch = redis.call('ZRANGEBYSCORE', index, '-inf', fmt(now), 'LIMIT', 0, want - #leased)
  if #batch == 0 then break end
  local set_aside = 0
  for _, member in ipairs(batch) do
    local name = name_of(member)
    local meta = redis.call('HGET', KEYS[1], name)
    if not meta then
      redis.call('ZREM', index, member)
    else
      local m = parse_meta(meta)
      local tkey = tag_key(ARGV[1], m.tag)
      if max_leases > 0 and m.rc >= max_leases then
        redis.call('ZREM', KEYS[3], member)
        redis.call('ZREM', KEYS[4], member)
        redis.call('ZREM', tkey, member)
        redis.call('ZADD', KEYS[5], fmt(now), member)
        set_aside = set_aside + 1
      else
        m.rc = m.rc + 1
        m.lease = until_usec
        redis.call('HSET', KEYS[1], name, pack_meta(m))
        redis.call('ZADD', KEYS[3], fmt(until_usec), member)
        redis.call('ZADD', tkey, fmt(until_usec), member)
        leased[#leased + 1] = task_reply(name, m, nil)
        names[#names + 1] = name
      end
    end
  end
  dead = dead + set_aside
  -- Only tasks set aside leave room to look again; a zero-length lease would find its own tasks.
  if set_aside == 0 or lease_usec == 0 then break end
end

if #leased > 0 then
  local payloads = redis.call('HMGET', KEYS[2], unpack(names))
  for i, task in ipairs(leased) do task[7] = payloads[i] end
  local second = math.floor(now / 1000000)
  local minute = math.floor(second / 60)
  for _, bucket in ipairs({{'s' .. fmt(second % 60), second}, {'m' .. fmt(minute % 60), minute}}) do
    local old = redis.call('HGET', KEYS[6], bucket[1])
    local count = #leased
    if old then
      local at, n = string.match(old, '^(%d+):(%d+)$')
      if tonumber(at) == bucket[2] then count = count + tonumber(n) end
    end
    redis.call('HSET', KEYS[6], bucket[1], fmt(bucket[2]) .. ':' .. fmt(count))
  end
  redis.call('PEXPIRE', KEYS[6], 3660000)
end
return {dead, leased}
