-- browse: a page of tasks in one state, for the dashboard and the admin API (no payloads).
-- Touches tasks, eta, enq, dead, leased and the tag index (reads only).
-- ARGV[3] state: 'all' (enqueue order) | 'available' (by availability) | 'leased' (by lease end)
--        | 'delayed' (never leased, not yet available) | 'dead' (by when set aside)
-- ARGV[4] offset, ARGV[5] count, ARGV[6] tag filter ('' = any), ARGV[7] '1' if a tag filter is set
-- Cost: O(log N + offset + count), except for 'delayed' and for a tag filter on 'leased' or
-- 'dead': those filter the range in chunks and read at most 50,000 entries for one page.
-- Returns {total_in_state (-1: unknown), {task, ...}, now_usec}.
local now = now_usec()
local state, offset, count = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local has_tag = ARGV[7] == '1'
local source, lo, hi, total, by_index

if state == 'all' then
  source = has_tag and tag_key(ARGV[6]) or K_ENQ
  total = redis.call('ZCARD', source)
  by_index = true
elseif state == 'available' then
  source = has_tag and tag_key(ARGV[6]) or K_ETA
  lo, hi = '-inf', fmt(now)
elseif state == 'leased' then
  source, lo, hi = K_LEASED, '(' .. fmt(now), '+inf'
elseif state == 'delayed' then
  source, lo, hi = has_tag and tag_key(ARGV[6]) or K_ETA, '(' .. fmt(now), '+inf'
elseif state == 'dead' then
  source = K_DEAD
  total = redis.call('ZCARD', source)
  by_index = true
else
  return redis.error_reply('unknown state ' .. state)
end
if not total then total = redis.call('ZCOUNT', source, lo, hi) end

local filter_tag = has_tag and (state == 'leased' or state == 'dead')
local filter_delayed = state == 'delayed'
local filtering = filter_tag or filter_delayed
local out = {}

local function keep(m)
  if filter_tag and m.tag ~= ARGV[6] then return false end
  if filter_delayed and m.rc > 0 then return false end
  return true
end

local function add(members)
  for _, member in ipairs(members) do
    local meta = redis.call('HGET', K_TASKS, name_of(member))
    if meta then out[#out + 1] = task_reply(name_of(member), parse_meta(meta), nil) end
  end
end

if not filtering then
  if by_index then
    add(redis.call('ZRANGE', source, offset, offset + count - 1))
  else
    add(redis.call('ZRANGEBYSCORE', source, lo, hi, 'LIMIT', offset, count))
  end
else
  -- Read the range in chunks, keeping the matches after `offset`, until the page is full,
  -- the range ends, or SCAN_BUDGET entries have been read.
  local SCAN_BUDGET, CHUNK = 50000, 500
  local position, matched = 0, 0
  while #out < count and position < SCAN_BUDGET do
    local chunk
    if by_index then
      chunk = redis.call('ZRANGE', source, position, position + CHUNK - 1)
    else
      chunk = redis.call('ZRANGEBYSCORE', source, lo, hi, 'LIMIT', position, CHUNK)
    end
    if #chunk == 0 then break end
    position = position + #chunk
    local names = {}
    for i, member in ipairs(chunk) do names[i] = name_of(member) end
    local metas = redis.call('HMGET', K_TASKS, unpack(names))
    for i, member in ipairs(chunk) do
      if metas[i] then
        local m = parse_meta(metas[i])
        if keep(m) then
          matched = matched + 1
          if matched > offset and #out < count then out[#out + 1] = task_reply(names[i], m, nil) end
        end
      end
    end
    if #chunk < CHUNK then break end
  end
end
if filtering then total = -1 end
return {total, out, fmt(now)}
