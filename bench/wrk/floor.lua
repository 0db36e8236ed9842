dofile(os.getenv("WRK_DIR") .. "/common.lua")
request = function()
  return wrk.format("POST", "/floor", {["Content-Type"] = "application/json"}, '{"x": 1}')
end
