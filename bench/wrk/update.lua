dofile(os.getenv("WRK_DIR") .. "/common.lua")
-- The pool's tasks are all leased for an hour beforehand; each update renews one.
request = function()
  return wrk.format("POST", base .. "/tasks/" .. random_name() .. "?newLeaseSeconds=3600",
                    {["Content-Type"] = "application/json"}, "{}")
end
