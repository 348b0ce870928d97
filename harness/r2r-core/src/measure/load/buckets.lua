-- Counts the responses a load generator (wrk) receives per second since an origin given
-- as its first argument (CLOCK_MONOTONIC, seconds), per thread, and prints them once it is
-- done, with its latency percentiles and error counts, as lines r2r reads.
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } r2r_timespec;
int clock_gettime(int clock, r2r_timespec *tp);
]]
local ts = ffi.new("r2r_timespec")
local function now()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  origin = tonumber(args[1]) or now()
  answered = {}
  failed = {}
end
function response(status, headers, body)
  local second = math.floor(now() - origin)
  answered[second] = (answered[second] or 0) + 1
  if status >= 400 then failed[second] = (failed[second] or 0) + 1 end
end
function done(summary, latency, requests)
  local total, bad = {}, {}
  for _, thread in ipairs(threads) do
    for s, n in pairs(thread:get("answered")) do total[s] = (total[s] or 0) + n end
    for s, n in pairs(thread:get("failed")) do bad[s] = (bad[s] or 0) + n end
  end
  for s, n in pairs(total) do io.write(string.format("r2r-second %d %d %d\n", s, n, bad[s] or 0)) end
  io.write(string.format("r2r-latency-us %d %d %d %d %d\n", latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
  local e = summary.errors
  io.write(string.format("r2r-summary %d %d %d %d %d %d %d\n", summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout))
end
