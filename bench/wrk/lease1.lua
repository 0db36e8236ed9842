dofile(os.getenv("WRK_DIR") .. "/common.lua")
-- leaseSecs=0: the same writes as any lease, and the task is available again at once,
-- so a finite queue can be leased for the whole run.
request = function()
  return wrk.format("POST", base .. "/tasks/lease?numTasks=1&leaseSecs=0")
end
