-- wrk script: POST /v1/events, one event per request (application/json),
-- keep-alive. Usage: wrk -tT -cC ... -s single.lua URL -- EVENTS.jsonl T
-- [WINDOW] (see events.lua for where the events come from, how they rotate,
-- and why a case appears at most once in WINDOW consecutive requests of a
-- thread; default 1000: at 64 a loaded machine still let requests overtake
-- each other, see events.lua).
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local events = require("events")

local evs, i, pass, sep, host

setup = events.setup

function init(args)
  local n = tonumber(args[2]) or 1
  evs = events.load(args[1], tid or 0, n, tonumber(args[3]) or 1000)
  host = wrk.host .. ":" .. wrk.port
  i, pass = 0, 1
  sep = "-p" .. pass
end

function request()
  i = i + 1
  if i > #evs then
    i, pass = 1, pass + 1
    sep = "-p" .. pass
  end
  local e = evs[i]
  local body = e[1] .. sep .. e[2]
  return events.header("/v1/events", host, "application/json", #body) .. body
end

function done(summary, latency, requests)
  events.done(summary, latency, nil)
end
