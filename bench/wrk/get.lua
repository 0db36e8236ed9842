dofile(os.getenv("WRK_DIR") .. "/common.lua")
request = function()
  return wrk.format("GET", base .. "/tasks/" .. random_name())
end
