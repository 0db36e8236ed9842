-- finish: record the outcome of a sent task, if the sender still holds its claim.
-- Touches tasks, due, created, attempts, inflight, tombstones.
-- ARGV[1] task id, ARGV[2] the claim's end (µs, as claim answered it), ARGV[3] the answer's HTTP
-- status (-1: none), ARGV[4] 'done' (success or no retries left: the task goes, its id tombstoned
-- for ARGV[6] µs) or 'retry' (due again at ARGV[5] µs)
-- Returns {0} or {8} the claim is no longer held (Code.CLAIM_LOST: the task was deleted or run again).
local id = ARGV[1]
if tonumber(redis.call('ZSCORE', K_INFLIGHT, id) or '-1') ~= tonumber(ARGV[2]) then return {8} end
local now = now_usec()
redis.call('ZREM', K_INFLIGHT, id)
local a = parse_attempts(redis.call('HGET', K_ATTEMPTS, id))
local status = tonumber(ARGV[3])
if status >= 0 then a.responses = a.responses + 1 end
if status >= 0 and status < 500 then a.below500 = a.below500 + 1 end
a.response = now
a.status = status
if ARGV[4] == 'done' then
  drop_task(id)
  local window = tonumber(ARGV[6])
  if window > 0 then
    redis.call('ZADD', K_TOMBSTONES, fmt(now + window), id)
    local ttl_ms = math.ceil(window / 1000)
    if redis.call('PTTL', K_TOMBSTONES) < ttl_ms then redis.call('PEXPIRE', K_TOMBSTONES, ttl_ms) end
  end
  return {0}
end
redis.call('HSET', K_ATTEMPTS, id, pack_attempts(a))
redis.call('ZADD', K_DUE, ARGV[5], id)
return {0}
