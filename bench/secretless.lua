-- Replays the requests bench/secretless.py wrote (REQUESTS=file), each once, round-robin over
-- wrk's threads; AUTH (optional) is an Authorization header sent with every request. Prints
-- "RESULT rps=… p50_ms=… p99_ms=… requests=… non200=… unused=…" at the end.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  lines = {}
  local n = 0
  local count = tonumber(os.getenv("THREADS") or "1")
  for line in io.lines(os.getenv("REQUESTS")) do
    if n % count == id then table.insert(lines, line) end
    n = n + 1
  end
  total = #lines
  next_line = 1
  non200 = 0
  auth = os.getenv("AUTH")
end

function request()
  local line = lines[next_line] or lines[#lines]
  next_line = next_line + 1
  local body, name, value = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
  local headers = {["Content-Type"] = "application/x-www-form-urlencoded"}
  if auth and auth ~= "" then headers["Authorization"] = auth end
  if name ~= "" then headers[name] = value end
  return wrk.format("POST", nil, headers, body)
end

function response(status, headers, body)
  if status ~= 200 then non200 = non200 + 1 end
end

function done(summary, latency, requests)
  local bad, left = 0, 0
  for _, t in ipairs(threads) do
    bad = bad + t:get("non200")
    left = left + math.max(0, t:get("total") - t:get("next_line") + 1)
  end
  io.write(string.format("RESULT rps=%.1f p50_ms=%.3f p99_ms=%.3f requests=%d non200=%d unused=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests, bad, left))
end
