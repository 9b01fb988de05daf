-- wrk script for bench/ingress (see docs/BENCHMARKS.md).
--
-- POSTs signed GitHub deployment_protection_rule deliveries to /webhook,
-- rotating through the variants listed in BENCH_REQUESTS (one line per
-- variant: "<body file> <sha256=... signature> <delivery uuid>"), counts every
-- answer that is not 202, and, when BENCH_RATE is set, paces the requests to
-- BENCH_RATE requests/s per wrk thread (see paced_delay() below).
--
-- At the end it prints one machine-readable line:
--   BENCH requests=N non202=N late=N lag_max_ms=F status_<code>=N...
--         errors=N duration_s=F rps=F
--         p50_us=N p90_us=N p99_us=N p999_us=N max_us=N
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk, bench_timespec *ts);
]]
local ts = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local function read_file(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local requests = {}
local nreq = 0
local next_req = 0
local interval_ms = nil -- per thread: ms between two sends
local next_slot = nil   -- per thread: when the next request may leave

function init(args)
  local list = assert(os.getenv("BENCH_REQUESTS"), "BENCH_REQUESTS unset")
  for line in io.lines(list) do
    local file, sig, delivery = line:match("^(%S+)%s+(%S+)%s+(%S+)$")
    if file then
      local body = read_file(file)
      local headers = {
        ["Content-Type"] = "application/json",
        ["X-GitHub-Event"] = "deployment_protection_rule",
        ["X-GitHub-Delivery"] = delivery,
        ["X-GitHub-Hook-ID"] = "42",
        ["X-Hub-Signature-256"] = sig,
        ["User-Agent"] = "GitHub-Hookshot/bench",
      }
      nreq = nreq + 1
      requests[nreq] = wrk.format("POST", "/webhook", headers, body)
    end
  end
  assert(nreq > 0, "no requests in " .. list)
  status = {}
  non202 = 0
  late = 0
  lag_max = 0
  -- BENCH_RATE is per wrk thread (run.sh uses -t1): a thread's Lua state
  -- cannot see how many threads there are.
  local rate = tonumber(os.getenv("BENCH_RATE") or "0")
  if rate > 0 then
    interval_ms = 1000 / rate
  end
end

function request()
  next_req = next_req % nreq + 1
  return requests[next_req]
end

-- Pacing. wrk calls delay() before each request of a connection (after the
-- previous answer on that connection has arrived) and sends the request that
-- many milliseconds later (wrk truncates to whole ms). Each call claims the
-- next free send slot of this thread's schedule (one slot every interval_ms,
-- shared by all its connections) and waits until it. The long-run rate is
-- therefore the target rate as long as the server keeps up; requests are never
-- sent ahead of their slot by more than the 1 ms truncation. When every
-- connection is still waiting for an answer as a slot passes, the schedule
-- restarts from now (the missed slots are not made up for) and the send is
-- counted in "late" with its lag: then the latency wrk reports leaves out the
-- time the request waited for a free connection (coordinated omission).
local function paced_delay()
  local t = now_ms()
  if next_slot == nil then
    next_slot = t
  end
  local lag = t - next_slot
  if lag > 1 then
    late = late + 1
    if lag > lag_max then
      lag_max = lag
    end
  end
  if lag > 0 then
    next_slot = t
  end
  local wait = next_slot - t
  next_slot = next_slot + interval_ms
  return wait
end
if tonumber(os.getenv("BENCH_RATE") or "0") > 0 then
  delay = paced_delay -- wrk paces only when the script defines delay()
end

function response(code, headers, body)
  if code ~= 202 then
    non202 = non202 + 1
    status[code] = (status[code] or 0) + 1
  end
end

function done(summary, latency, requests_)
  local non, nlate, lagmax = 0, 0, 0
  local codes = {}
  for _, t in ipairs(threads) do
    non = non + (t:get("non202") or 0)
    nlate = nlate + (t:get("late") or 0)
    lagmax = math.max(lagmax, t:get("lag_max") or 0)
    local st = t:get("status")
    if st then
      for code, n in pairs(st) do
        codes[code] = (codes[code] or 0) + n
      end
    end
  end
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.timeout
  local secs = summary.duration / 1e6
  local parts = {
    string.format("BENCH requests=%d non202=%d late=%d lag_max_ms=%.1f",
                  summary.requests, non, nlate, lagmax),
  }
  for code, n in pairs(codes) do
    table.insert(parts, string.format("status_%s=%d", tostring(code), n))
  end
  table.insert(parts, string.format(
    "errors=%d duration_s=%.3f rps=%.1f p50_us=%d p90_us=%d p99_us=%d " ..
    "p999_us=%d max_us=%d", errors, secs, summary.requests / secs,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max))
  io.write(table.concat(parts, " "), "\n")
end
