-- wrk script for benchmarks/run sendmessage: POSTs pre-signed requests, one token per request.
-- BENCH_DIR holds bodies.txt (one JSON body per conversation) and reqs-<phase>-<thread>.txt
-- ("<token>\t<conversation index>" per line, signed before the timed phase); BENCH_PATH is the URL path.
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  local dir = os.getenv("BENCH_DIR")
  path = os.getenv("BENCH_PATH")
  bodies = {}
  for line in io.lines(dir .. "/bodies.txt") do
    bodies[#bodies + 1] = line
  end
  tokens = {}
  convo = {}
  for line in io.lines(dir .. "/reqs-" .. os.getenv("BENCH_PHASE") .. "-" .. id .. ".txt") do
    local t, c = line:match("([^\t]+)\t(%d+)")
    tokens[#tokens + 1] = "Bearer " .. t
    convo[#convo + 1] = tonumber(c) + 1
  end
  i = 0
end

function request()
  i = i + 1
  if i > #tokens then
    i = 1 -- out of tokens: replays are refused (401) and counted as errors
  end
  return wrk.format("POST", path,
    {["Authorization"] = tokens[i], ["Content-Type"] = "application/json"}, bodies[convo[i]])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"durationUs":%d,"errorsStatus":%d,"errorsConnect":%d,"errorsRead":%d,"errorsWrite":%d,'
      .. '"errorsTimeout":%d,"p50Us":%d,"p90Us":%d,"p99Us":%d,"maxUs":%d,"meanUs":%.1f}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
