-- browse: a page of tasks in one state, for the dashboard and the admin API (no payloads).
-- Touches tasks, eta, enq, dead, leased and the tag index (reads only).
-- ARGV[3] state: 'all' (enqueue order) | 'available' (by availability) | 'leased' (by lease end)
--        | 'delayed' (never leased, not yet available) | 'dead' (by when set aside)
-- ARGV[4] offset, ARGV[5] count, ARGV[6] tag filter ('' = any), ARGV[7] '1' if a tag filter is set
-- Cost: O(log N + offset + count) for every state but 'delayed', and for a tag filter on
-- 'leased' and 'dead', which read ahead up to 20 pages to fill one.
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
local out, skipped, position = {}, 0, 0
local window = count
if filter_tag or filter_delayed then window = count * 20 end
local members
if by_index and not filter_tag then
  members = redis.call('ZRANGE', source, offset, offset + count - 1)
elseif by_index then
  members = redis.call('ZRANGE', source, 0, offset + window - 1)
elseif filter_tag or filter_delayed then
  members = redis.call('ZRANGEBYSCORE', source, lo, hi, 'LIMIT', 0, offset + window)
else
  members = redis.call('ZRANGEBYSCORE', source, lo, hi, 'LIMIT', offset, count)
end
local filtering = filter_tag or filter_delayed
local matched = 0
for _, member in ipairs(members) do
  if #out >= count then break end
  local name = name_of(member)
  local meta = redis.call('HGET', K_TASKS, name)
  if meta then
    local m = parse_meta(meta)
    local keep = true
    if filter_tag and m.tag ~= ARGV[6] then keep = false end
    if filter_delayed and m.rc > 0 then keep = false end
    if keep then
      matched = matched + 1
      if not filtering or matched > offset then
        out[#out + 1] = task_reply(name, m, nil)
      end
    end
  end
end
if filtering then total = -1 end
return {total, out, fmt(now)}
