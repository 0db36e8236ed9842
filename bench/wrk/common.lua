-- Shared by the wrk scripts: each thread numbers its requests in its own range of task names.
local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

function init(args)
  base = args[1]
  stride = tonumber(args[2] or "1000000")
  pool = tonumber(args[3] or "0")
  counter = 0
  math.randomseed(os.time() + thread_index * 7919)
end

function next_name()
  local n = thread_index * stride + counter
  counter = counter + 1
  return "t" .. n
end

function random_name()
  return "t" .. math.random(0, pool - 1)
end
