-- Shared by single.lua and batch.lua: the events to send, loaded from a JSON
-- Lines file of real events (run.sh exports BPIC 2012 in timestamp order,
-- one {"case":"…","activity":…} object a line) and split where the case id
-- ends, so a pass number can be appended to every case id at send time with
-- one table.concat (C speed). Each pass over the file therefore opens fresh
-- cases, and the server judges a realistic stream, never the same case
-- forever nor a case that starts over in the middle of its history.
--
-- Each wrk thread takes the cases whose hash falls to it, so one case's
-- events come from one thread only, in log order.
local M = {}

local function hash(s)
  local h = 5381
  for i = 1, #s do
    h = (h * 33 + s:byte(i)) % 4294967296
  end
  return h
end

-- A binary min-heap of cases keyed by the log position of their next event.
local function heap_push(h, c)
  h[#h + 1] = c
  local i = #h
  while i > 1 do
    local p = math.floor(i / 2)
    if h[p].key <= h[i].key then break end
    h[p], h[i] = h[i], h[p]
    i = p
  end
end

local function heap_pop(h)
  local top, n = h[1], #h
  h[1] = h[n]
  h[n] = nil
  n = n - 1
  local i = 1
  while true do
    local l, r, m = 2 * i, 2 * i + 1, i
    if l <= n and h[l].key < h[m].key then m = l end
    if r <= n and h[r].key < h[m].key then m = r end
    if m == i then break end
    h[m], h[i] = h[i], h[m]
    i = m
  end
  return top
end

-- Reorder evs (in log order) so that a case appears at most once in any
-- `window` consecutive requests, otherwise keeping log order as far as
-- possible (each slot takes the earliest event whose case is not cooling
-- down). wrk keeps up to -c requests of a thread in flight and gives no way
-- to tie a case to a connection, so without this the events of a case that
-- come in a burst (BPIC 2012 has many) would overtake each other and the
-- server would judge a shuffled stream. Measured with -t2 -c32 on the
-- shared 2-core machine: log order 32 % deviations; window 64, 13 % (a
-- request stalled on a descheduled server thread is overtaken by hundreds);
-- 256, 4.50 %; 1000, 4.42 % -- the rate of the same log sent in order
-- (4.4 %; `vigil check` finds 4.55 % on the whole log). Near the end, when
-- fewer than `window` cases are left, the rule is relaxed rather than
-- stalled.
local function spread(evs, window)
  if window <= 1 then return evs end
  local cases, h = {}, {}
  for idx, e in ipairs(evs) do
    local c = cases[e.id]
    if not c then
      c = { list = {}, next = 1 }
      cases[e.id] = c
    end
    c.list[#c.list + 1] = idx
  end
  for _, c in pairs(cases) do
    c.key = c.list[1]
    heap_push(h, c)
  end
  local out, cool, head, tail = {}, {}, 1, 0 -- cool: FIFO of {release slot, case}
  for slot = 1, #evs do
    while cool[head] and (cool[head][1] <= slot or #h == 0) do
      local c = cool[head][2]
      cool[head] = nil
      head = head + 1
      heap_push(h, c)
    end
    local c = heap_pop(h)
    out[slot] = evs[c.list[c.next]]
    c.next = c.next + 1
    if c.next <= #c.list then
      c.key = c.list[c.next]
      tail = tail + 1
      cool[tail] = { slot + window, c }
    end
  end
  return out
end

-- Returns a list of {head, tail} pairs: head is '{"case":"<id>', tail is
-- the rest of the line ('",…}'); only lines of this thread's cases, spread
-- over `window` (see spread).
function M.load(path, tid, nthreads, window)
  local f = assert(io.open(path, "r"), "cannot open " .. tostring(path))
  local out = {}
  for line in f:lines() do
    local id = line:match('^{"case":"([^"\\]*)"')
    if id and hash(id) % nthreads == tid then
      local cut = 9 + #id -- '{"case":"' is 9 bytes
      out[#out + 1] = { line:sub(1, cut), line:sub(cut + 1), id = id }
    end
  end
  f:close()
  assert(#out > 0, "no events for thread " .. tid .. " in " .. path)
  return spread(out, window or 0)
end

function M.header(path, host, ctype, len)
  return "POST " .. path .. " HTTP/1.1\r\nHost: " .. host ..
         "\r\nContent-Type: " .. ctype .. "\r\nContent-Length: " .. len .. "\r\n\r\n"
end

-- setup(): number the threads so each can pick its share of the cases.
local next_id = 0
function M.setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
end

-- done(): one machine-readable line for run.sh besides wrk's own report.
function M.done(summary, latency, unit)
  local e = summary.errors
  local s = summary.duration / 1e6
  io.write(string.format(
    "RESULT requests=%d seconds=%.3f rps=%.1f %s p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
    "errors_connect=%d errors_read=%d errors_write=%d errors_status=%d errors_timeout=%d\n",
    summary.requests, s, summary.requests / s,
    unit and string.format("events_per_s_approx=%.1f", summary.requests * unit / s) or "events_per_s_approx=-",
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end

return M
