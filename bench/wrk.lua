-- wrk script for `make bench` (bench/load.py): the request comes from the
-- environment, the summary goes to stdout as one JSON line.
--   BENCH_METHOD  GET or POST (GET)
--   BENCH_BODY    JSON body of a POST
--   BENCH_DELAY_MS  mean pause of each connection before each request: a fixed,
--                   moderate rate (connections / delay) instead of flat out.
--                   The pauses are random (exponential), so requests arrive as
--                   a Poisson stream; equal pauses would keep the connections in
--                   step and send them in bursts, and the latency would measure
--                   each burst's queue rather than one request.
local body = os.getenv("BENCH_BODY") or ""
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0")

wrk.method = os.getenv("BENCH_METHOD") or "GET"
if body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end

if delay_ms > 0 then
  function init(args)
    math.randomseed(os.time())
  end

  function delay()
    return -delay_ms * math.log(1 - math.random())
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
    .. '"latency_us": {"mean": %.1f, "max": %d, "p50": %d, "p90": %d, "p99": %d, "p99_9": %d}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
end
