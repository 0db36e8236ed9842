-- browse: a page of tasks in one state, for the dashboard and the admin API (no payloads).
-- Touches tasks, notag, tagged, enq, dead, leased and the tag index (reads only).
-- ARGV[3] state: 'all' (enqueue order) | 'available' (by availability) | 'leased' (by lease end)
--        | 'delayed' (never leased, not yet available) | 'dead' (by when set aside)
-- ARGV[4] offset, ARGV[5] count, ARGV[6] tag filter ('' = untagged), ARGV[7] '1' if a tag filter is set
-- Cost: O(log N + offset + count), except for 'delayed' and for a tag filter on 'leased' or
-- 'dead': those filter the range in chunks and read at most 50,000 entries for one page.
-- Returns {total_in_state (-1: unknown), {task, ...}, now_usec}.
local now = now_usec()
local state, offset, count = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local has_tag = ARGV[7] == '1'
local tag = ARGV[6]
local out = {}

-- Add the tasks of these members to the page, in order (a member whose task is gone is skipped).
local function add(members)
  if #members == 0 then return end
  local names = {}
  for i, member in ipairs(members) do names[i] = name_of(member) end
  local records = redis.call('HMGET', K_TASKS, unpack(names))
  for i, name in ipairs(names) do
    if records[i] then out[#out + 1] = task_reply(name, parse_record(records[i]), nil) end
  end
end

-- Page through a range in chunks, keeping the members `keep` accepts, until the page is full,
-- the range ends, or SCAN_BUDGET entries have been read. `chunk_at(position, size)` reads the
-- range from `position`, returning its members and whether more may follow.
local SCAN_BUDGET, CHUNK = 50000, 500
local function filtered(chunk_at, keep)
  local position, matched = 0, 0
  while #out < count and position < SCAN_BUDGET do
    local chunk, more = chunk_at(position, CHUNK)
    if #chunk == 0 then break end
    position = position + #chunk
    local kept = {}
    for _, member in ipairs(chunk) do
      if keep(member) then
        matched = matched + 1
        if matched > offset and #out + #kept < count then kept[#kept + 1] = member end
      end
    end
    add(kept)
    if not more then break end
  end
end

local function by_score(key, lo, hi)
  return function(position, size)
    local chunk = redis.call('ZRANGEBYSCORE', key, lo, hi, 'LIMIT', position, size)
    return chunk, #chunk == size
  end
end

local function by_rank(key)
  return function(position, size)
    local chunk = redis.call('ZRANGE', key, position, position + size - 1)
    return chunk, #chunk == size
  end
end

-- Every live task scored in [lo, hi], notag and tagged merged, read from the start in chunks.
local function due(lo, hi)
  local taken_notag, taken_tagged, read = 0, 0, 0
  return function(position, size)
    assert(position == read, 'due() reads its range in order')
    local members, _, a, b, more = due_window(lo, hi, size, taken_notag, taken_tagged)
    taken_notag, taken_tagged, read = taken_notag + a, taken_tagged + b, read + #members
    return members, more
  end
end

-- Never leased since it was queued: a live task with a lease end ahead of it is leased.
local function not_leased(member)
  local lease_end = redis.call('ZSCORE', K_LEASED, member)
  return not lease_end or tonumber(lease_end) <= now
end

local function in_tag(member)
  return redis.call('ZSCORE', tag_key(tag), member) ~= false
end

local function dead_with_tag(member)
  local m = load(name_of(member))
  return m ~= nil and m.tag == tag
end

local total = -1
if state == 'all' then
  local source = has_tag and tag_key(tag) or K_ENQ
  total = redis.call('ZCARD', source)
  add(redis.call('ZRANGE', source, offset, offset + count - 1))
elseif state == 'available' then
  if has_tag then
    total = redis.call('ZCOUNT', tag_key(tag), '-inf', fmt(now))
    add(redis.call('ZRANGEBYSCORE', tag_key(tag), '-inf', fmt(now), 'LIMIT', offset, count))
  else
    total = due_count('-inf', fmt(now))
    local members, page = due_window('-inf', fmt(now), offset + count), {}
    for i = offset + 1, #members do page[#page + 1] = members[i] end
    add(page)
  end
elseif state == 'leased' then
  local lo = '(' .. fmt(now)
  if has_tag then
    filtered(by_score(K_LEASED, lo, '+inf'), in_tag)
  else
    total = redis.call('ZCOUNT', K_LEASED, lo, '+inf')
    add(redis.call('ZRANGEBYSCORE', K_LEASED, lo, '+inf', 'LIMIT', offset, count))
  end
elseif state == 'delayed' then
  local lo = '(' .. fmt(now)
  filtered(has_tag and by_score(tag_key(tag), lo, '+inf') or due(lo, '+inf'), not_leased)
elseif state == 'dead' then
  if has_tag then
    filtered(by_rank(K_DEAD), dead_with_tag)
  else
    total = redis.call('ZCARD', K_DEAD)
    add(redis.call('ZRANGE', K_DEAD, offset, offset + count - 1))
  end
else
  return redis.error_reply('unknown state ' .. state)
end
return {total, out, fmt(now)}
