dofile(os.getenv("WRK_DIR") .. "/common.lua")
request = function()
  return wrk.format("DELETE", base .. "/tasks/" .. next_name())
end
