-- wrk script for bench/run.sh: sends Alibaba APP-signed GET requests precomputed by
-- `crates/auth/examples/sign_requests.rs` (wrk's Lua has no cheap HMAC-SHA256, and signing
-- here would spend the CPU the gateway is measured on).
--
--   wrk ... -s bench/app-sign.lua <url> -- <mode> <file prefix> <host> <path> <app key>
--
-- Thread i (from 0) reads <prefix>.<i>: a first line `# x-ca-signature-headers: <list>`, then
-- one request per line, `<timestamp> <signature>` or `<timestamp> <nonce> <signature>`.
--   mode "cycle": all lines are loaded at init and sent round-robin, forever. Only for requests
--                 without a nonce: each stays valid for the gateway's 15-minute clock window.
--   mode "once":  each line is sent once, read from the file as wrk needs it (a nonce may be
--                 used only once). When the file runs out the thread stops and done() prints
--                 `app-sign: exhausted` (the run is then invalid); it also prints how many
--                 requests each thread sent.

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local mode, head, requests, count, i, fh, last
sent = 0
exhausted = 0

function init(args)
  mode = args[1]
  local prefix, host, path, key = args[2], args[3], args[4], args[5]
  assert(mode == "cycle" or mode == "once", "mode must be cycle or once")
  assert(key, "usage: -- <mode> <file prefix> <host> <path> <app key>")
  local file = prefix .. "." .. id
  local f = assert(io.open(file, "r"))
  local signed = f:read("*l"):match("^# x%-ca%-signature%-headers: (%S+)$")
  assert(signed, file .. ": no x-ca-signature-headers line")
  head = "GET " .. path .. " HTTP/1.1\r\nHost: " .. host ..
    "\r\nAccept: application/json\r\nX-Ca-Key: " .. key ..
    "\r\nX-Ca-Signature-Method: HmacSHA256\r\nX-Ca-Signature-Headers: " .. signed ..
    "\r\nX-Ca-Timestamp: "
  if mode == "cycle" then
    requests, count, i = {}, 0, 0
    for line in f:lines() do
      local ts, sig = line:match("^(%d+) (%S+)$")
      assert(ts, file .. ": cycle mode takes `<timestamp> <signature>` lines, got: " .. line)
      count = count + 1
      requests[count] = head .. ts .. "\r\nX-Ca-Signature: " .. sig .. "\r\n\r\n"
    end
    f:close()
    assert(count > 0, file .. ": no requests")
  else
    fh = f
  end
end

function request()
  if mode == "cycle" then
    i = i + 1
    if i > count then i = 1 end
    sent = sent + 1
    return requests[i]
  end
  local line = fh:read("*l")
  if line then
    local ts, nonce, sig = line:match("^(%d+) (%S+) (%S+)$")
    if ts then
      sent = sent + 1
      last = head .. ts .. "\r\nX-Ca-Nonce: " .. nonce .. "\r\nX-Ca-Signature: " .. sig .. "\r\n\r\n"
      return last
    end
  end
  -- Out of nonces: stop this thread. The connections still waiting get the last request again,
  -- which the gateway refuses (reused nonce), so wrk's non-2xx count shows it too.
  exhausted = 1
  wrk.thread:stop()
  return last or (head .. "0\r\nX-Ca-Nonce: exhausted\r\nX-Ca-Signature: x\r\n\r\n")
end

function done(summary, latency, requests)
  local total, out = 0, 0
  for _, t in ipairs(threads) do
    total = total + (tonumber(t:get("sent")) or 0)
    out = out + (tonumber(t:get("exhausted")) or 0)
  end
  io.write(string.format("app-sign: sent %d signed requests\n", total))
  if out > 0 then
    io.write(string.format("app-sign: exhausted in %d thread(s)\n", out))
  end
end
