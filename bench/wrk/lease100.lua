dofile(os.getenv("WRK_DIR") .. "/common.lua")
request = function()
  return wrk.format("POST", base .. "/tasks/lease?numTasks=100&leaseSecs=0")
end
