-- Shared by every scenario: optional think time and POST bodies from the environment, and a
-- JSON summary line (percentiles including p95, which wrk's --latency does not print).
local think_min = tonumber(os.getenv("BENCH_THINK_MIN_MS") or "0")
local think_max = tonumber(os.getenv("BENCH_THINK_MAX_MS") or "0")
local kind = os.getenv("BENCH_KIND") or "get"
local counter = 0
if os.getenv("BENCH_NO_CACHE") then
  -- Ask for a fresh page: measures the database path of a cached list.
  wrk.headers["Cache-Control"] = "no-cache"
end
statuses = {}  -- a global: done() reads it from each thread
local thread_list = {}

function setup(thread)
  table.insert(thread_list, thread)
end

function init(args)
  math.randomseed(os.time() + (tonumber(tostring({}):sub(8), 16) or 0))
  statuses = {}
end

function delay()
  if think_max <= 0 then return 0 end
  return math.random(think_min, think_max)
end

local function login_body()
  local n = math.random(1, 30)
  return string.format('{"email":"driver%d@demo.atmr.test","password":"demo-atmr"}', n)
end

local function booking_body()
  local day = os.getenv("BENCH_CREATE_DAY")
  local minute = math.random(0, 9 * 60)
  return string.format(
    '{"client":"%s","pickup":{"address":"Rue du Bench 1, Lausanne","lat":46.52,"lon":6.63},'
      .. '"dropoff":{"address":"CHUV, Lausanne","lat":46.525,"lon":6.642},'
      .. '"scheduled_at":"%sT%02d:%02d:00Z","passengers":1}',
    os.getenv("BENCH_CLIENT"), day, 6 + math.floor(minute / 60), minute % 60)
end

local function dispatch_body()
  -- A new day per request: a day with an active run answers 409 by design.
  counter = counter + 1
  local base = tonumber(os.getenv("BENCH_DISPATCH_BASE_EPOCH"))
  local id = tonumber(os.getenv("BENCH_THREAD_SALT") or "0")
  local day = os.date("!%Y-%m-%d", base + (counter * 97 + id) * 86400)
  return string.format('{"date":"%s","mode":"suggest"}', day)
end

local function post(body)
  -- wrk.format replaces wrk.headers (which holds -H Authorization) when given headers.
  local headers = {}
  for name, value in pairs(wrk.headers) do headers[name] = value end
  headers["Content-Type"] = "application/json"
  return wrk.format("POST", nil, headers, body)
end

function request()
  if kind == "login" then
    return post(login_body())
  elseif kind == "create" then
    return post(booking_body())
  elseif kind == "dispatch" then
    return post(dispatch_body())
  end
  return wrk.format("GET")
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local codes = {}
  for _, thread in ipairs(thread_list) do
    local s = thread:get("statuses")
    for code, n in pairs(s) do codes[code] = (codes[code] or 0) + n end
  end
  local parts = {}
  for code, n in pairs(codes) do table.insert(parts, string.format('"%d":%d', code, n)) end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,'
      .. '"status":%d,"timeout":%d,"p50":%d,"p90":%d,"p95":%d,"p99":%d,"max":%d,'
      .. '"mean":%.1f,"statuses":{%s}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max, latency.mean, table.concat(parts, ",")))
end
