-- Shared helpers, prepended to every script in this folder (see queueservice/scripts.py).
-- Units: every time is in microseconds since the Unix epoch, read from Redis TIME.
-- A task's meta record is "enqueue_usec,lease_usec,retry_count,alphabet,tag"
-- (alphabet: 's' standard or 'u' URL-safe base64; tag last since it may hold commas).
-- A task's sorted-set member is its 16-digit enqueue time followed by its name.
-- Numbers are formatted with %.0f: Lua's tostring would write 1.7e+15.

local function now_usec()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

local function fmt(n)
  return string.format('%.0f', n)
end

local function member_of(enq, name)
  return string.format('%016.0f', enq) .. name
end

local function name_of(member)
  return string.sub(member, 17)
end

local function parse_meta(meta)
  local enq, lease, rc, alphabet, tag = string.match(meta, '^(%d+),(%d+),(%d+),(%a),(.*)$')
  return {enq = tonumber(enq), lease = tonumber(lease), rc = tonumber(rc),
          alphabet = alphabet, tag = tag}
end

local function pack_meta(m)
  return fmt(m.enq) .. ',' .. fmt(m.lease) .. ',' .. fmt(m.rc) .. ',' .. m.alphabet .. ',' .. m.tag
end

-- Same rule as QueueKeys.tag in keys.py.
local function tag_key(base, tag)
  if tag == '' then return base .. 'notag' end
  return base .. 'tag:' .. tag
end

-- A task as scripts return it: {name, enqueue_usec, lease_usec, retry_count, alphabet, tag, payload|nil}.
local function task_reply(name, m, payload)
  return {name, fmt(m.enq), fmt(m.lease), fmt(m.rc), m.alphabet, m.tag, payload or false}
end
