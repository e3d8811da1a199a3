-- SPDX-License-Identifier: Apache-2.0
-- wrk script: cycles the tokens of a file (one JWT per line) through `Authorization: Bearer`.
-- Usage: wrk ... -s loadtest/wrk/verify_tokens.lua URL -- TOKENS_FILE
-- Requests are formatted once in init() so the hot path is a table lookup: wrk shares the
-- machine's cores with the server under test, and every target gets the same script.
local requests = {}
local next_index = 0

function init(args)
  local path = args[1]
  if path == nil then
    error("verify_tokens.lua: pass the token file after --")
  end
  for line in io.lines(path) do
    if #line > 0 then
      requests[#requests + 1] = wrk.format(nil, nil, {["Authorization"] = "Bearer " .. line})
    end
  end
  if #requests == 0 then
    error("verify_tokens.lua: no tokens in " .. path)
  end
end

function request()
  next_index = next_index % #requests + 1
  return requests[next_index]
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
