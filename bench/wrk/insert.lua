dofile(os.getenv("WRK_DIR") .. "/common.lua")
-- 100-byte payload, base64.
local body = '{"payloadBase64": "' .. string.rep("QUJD", 33) .. 'QQ=="}'
request = function()
  return wrk.format("POST", base .. "/tasks", {["Content-Type"] = "application/json"}, body)
end
