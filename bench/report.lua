-- wrk script for bench/run.sh.
-- Env: BENCH_METHOD (POST|GET), BENCH_BODY (form body), BENCH_AUTHS (Authorization header
-- values separated by "|": requests cycle through them, one client each), or BENCH_AUTH_FILE
-- (one Authorization value a line, for many clients), BENCH_XFF (an X-Forwarded-For value).
local method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY") or ""
local auths = {}
for a in string.gmatch(os.getenv("BENCH_AUTHS") or "", "[^|]+") do
  table.insert(auths, a)
end
local auth_file = os.getenv("BENCH_AUTH_FILE")
if auth_file then
  for line in io.lines(auth_file) do
    if line ~= "" then table.insert(auths, line) end
  end
end

local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local counter = 0
function init(args)
  -- Threads start half the list apart (run.sh and scale.sh use wrk -t2), so the two threads
  -- rarely ask for the same client at once: concurrent requests of one client share one
  -- argon2id run, which inflated the cold-path figure. (Their counters can still drift.)
  counter = id * math.floor(#auths / 2)
  wrk.method = method
  local xff = os.getenv("BENCH_XFF")
  if xff and xff ~= "" then wrk.headers["X-Forwarded-For"] = xff end
  if method == "POST" then
    wrk.body = body
    wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  end
end

function request()
  if #auths > 0 then
    counter = counter + 1
    wrk.headers["Authorization"] = auths[(counter % #auths) + 1]
  end
  return wrk.format()
end

function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f max_ms=%.1f requests=%d non2xx=%d sock_errors=%d\n",
    summary.requests / secs, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.requests, e.status, e.connect + e.read + e.write + e.timeout))
end
