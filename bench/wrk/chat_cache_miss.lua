-- wrk script for the response-cache overhead run: a deterministic (temperature 0) chat completion whose
-- prompt is new on every request and in every wrk run (a random run tag plus a counter), so an exact
-- cache on the route looks up, misses and stores every response: 0% hits, the cache's whole cost.
-- Arguments: the model name, then one request header as "name: value" (optional).

local model = "bench-model"
local counter = 0
local run = ""

function init(args)
  if args[1] ~= nil then model = args[1] end
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
  run = string.format("%08x%08x", math.random(0, 0x7fffffff), math.random(0, 0x7fffffff))
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  if args[2] ~= nil then
    local name, value = args[2]:match("^([^:]+):%s*(.*)$")
    wrk.headers[name] = value
  end
end

function request()
  counter = counter + 1
  return wrk.format(nil, nil, nil, '{"model":"' .. model .. '","messages":[{"role":"user","content":' ..
    '"Say hello in five words, run ' .. run .. ' request ' .. counter .. '."}],"max_tokens":16,"temperature":0}')
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"duration_us":%d,"requests":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"mean":%.2f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9)))
end
