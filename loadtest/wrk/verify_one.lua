-- SPDX-License-Identifier: Apache-2.0
-- wrk script: sends the same token (the first line of a file) in every request as
-- `Authorization: Bearer`, the verified-token cache's best case.
-- Usage: wrk ... -s loadtest/wrk/verify_one.lua URL -- TOKENS_FILE
-- No request() function: wrk then formats the request once and reuses it (its cheapest path).
local found = false

function init(args)
  local path = args[1]
  if path == nil then
    error("verify_one.lua: pass the token file after --")
  end
  for line in io.lines(path) do
    if #line > 0 then
      wrk.headers["Authorization"] = "Bearer " .. line
      found = true
      break
    end
  end
  if not found then
    error("verify_one.lua: no token in " .. path)
  end
end

-- One machine-readable line for loadtest/bench-verify (latencies in microseconds).
function done(summary, latency, _)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_s=%.3f rps=%.1f p50_us=%d p99_us=%d max_us=%d " ..
    "non2xx=%d connect_errors=%d read_errors=%d write_errors=%d timeouts=%d\n",
    summary.requests, seconds, summary.requests / seconds, latency:percentile(50),
    latency:percentile(99), latency.max, e.status, e.connect, e.read, e.write, e.timeout))
end
