-- The shared clock, prepended to every store's scripts (see redis_helpers/clock.py): the last of
-- a script's KEYS is the clock key, holding an offset in µs that tests add to Redis TIME.
local K_CLOCK = KEYS[#KEYS]
local clock_offset = nil

-- Redis TIME plus the clock's offset (read once per script), in µs.
local function now_usec()
  if clock_offset == nil then
    clock_offset = tonumber(redis.call('GET', K_CLOCK) or '0') or 0
  end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2]) + clock_offset
end

-- Numbers formatted with %.0f: Lua's tostring would write 1.7e+15.
local function fmt(n)
  return string.format('%.0f', n)
end
