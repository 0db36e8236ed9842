-- delete: remove a task for good, leased or not, live or dead-lettered, and reserve its name
-- for a while (a tombstone), as App Engine did.
-- Touches tasks, payloads, notag or tagged and the tag index, enq, dead, leased, history, tombstones.
-- ARGV[3] task name, ARGV[4] how long the name stays reserved, in µs (0: tombstones are off,
-- and earlier ones are not honoured either)
-- Returns {0} deleted, {1} unknown task (Code.NOT_FOUND), {7} deleted already: its name is
-- still tombstoned (Code.DELETED_ALREADY).
local name = ARGV[3]
local tombstone_usec = tonumber(ARGV[4])
local now = now_usec()
local m = load(name)
if not m then
  if tombstone_usec > 0 and tombstoned(name, now) then return {7} end
  return {1}
end
local member = member_of(m.enq, name)
unindex(member, m)
redis.call('ZREM', K_DEAD, member)
forget_task(name, m)
if tombstone_usec > 0 then
  drop_expired_tombstones(now)
  redis.call('ZADD', K_TOMBSTONES, fmt(now + tombstone_usec), name)
  -- The set goes with its last tombstone; never shorten what another instance's setting gave it.
  local ttl_ms = math.ceil(tombstone_usec / 1000)
  if redis.call('PTTL', K_TOMBSTONES) < ttl_ms then
    redis.call('PEXPIRE', K_TOMBSTONES, ttl_ms)
  end
end
record(name, 'deleted', m.rc, now)
return {0}
