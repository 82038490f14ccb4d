-- wrk script: POST /v1/events with NDJSON bodies of $VG_BATCH events
-- (default 1,000), keep-alive. Usage: wrk ... -s batch.lua URL --
-- EVENTS.jsonl NTHREADS. Use one connection per thread (-c = -t): a thread's
-- batches then reach the server one after another, so every case's events
-- arrive in log order.
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local events = require("events")

local batches, b, pass, host
-- From the environment, since done() runs where init()'s arguments are not.
local bsize = tonumber(os.getenv("VG_BATCH") or "1000")

setup = events.setup

-- Each batch as pieces cut where case ids end: table.concat(pieces, sep)
-- puts the pass suffix after every case id of the batch.
local function build(evs, size)
  local out = {}
  for first = 1, #evs, size do
    local pieces, acc = {}, ""
    for k = first, math.min(first + size - 1, #evs) do
      pieces[#pieces + 1] = acc .. evs[k][1]
      acc = evs[k][2] .. "\n"
    end
    pieces[#pieces + 1] = acc
    out[#out + 1] = pieces
  end
  return out
end

function init(args)
  local n = tonumber(args[2]) or 1
  batches = build(events.load(args[1], tid or 0, n), bsize)
  host = wrk.host .. ":" .. wrk.port
  b, pass = 0, 1
end

function request()
  b = b + 1
  if b > #batches then
    b, pass = 1, pass + 1
  end
  local body = table.concat(batches[b], "-p" .. pass)
  return events.header("/v1/events", host, "application/x-ndjson", #body) .. body
end

function done(summary, latency, requests)
  events.done(summary, latency, bsize)
end
