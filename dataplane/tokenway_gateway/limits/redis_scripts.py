"""Server-side Lua for the shared limiter: window.py's algorithm, atomic in Redis.

One hash per limiter key. For each window w in (r: requests/min, t: tokens/min, d: tokens/day):
`<w>h` newest bucket number, `<w>t` total counted, `<w><slot>` the count of a ring slot.
Time is the Redis server's (TIME), so every replica shares one clock; tests may pass `now`.
"""

from __future__ import annotations

import hashlib

_COMMON = r"""
local P = {'r', 't', 'd'}
local W = {1000, 1000, 600000}   -- bucket width (ms)
local K = {60, 60, 144}          -- buckets per period (the ring holds K + 1)
local key

local function clock(arg)
  local now = tonumber(arg)
  if now == 0 then
    local t = redis.call('TIME')
    now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return now
end

-- Bring window i to bucket b; returns head, total (b earlier than head: stays at head).
local function advance(i, h, tot, b)
  if h == nil then return b, 0 end
  if b <= h then return h, tot end
  local m = K[i] + 1
  local fields = {}
  local from = h + 1
  if b - h >= m then from = h - m + 1 end
  local last = b
  if b - h >= m then last = h end
  for x = from, last do fields[#fields + 1] = P[i] .. (x % m) end
  if b - h >= m then
    redis.call('HDEL', key, unpack(fields))
    return b, 0
  end
  local counts = redis.call('HMGET', key, unpack(fields))
  local gone = {}
  for j = 1, #fields do
    local c = tonumber(counts[j])
    if c then tot = tot - c; gone[#gone + 1] = fields[j] end
  end
  if #gone > 0 then redis.call('HDEL', key, unpack(gone)) end
  return b, tot
end

local function slots(i, h)
  local m = K[i] + 1
  local fields = {}
  for x = h - m + 1, h do fields[#fields + 1] = P[i] .. (x % m) end
  return redis.call('HMGET', key, unpack(fields))
end
"""

RESERVE = _COMMON + r"""
-- KEYS[1]: the limiter key. ARGV: now_ms (0: server time), tokens, rpm, tpm, tpd (0: unlimited)
-- Returns {allowed, refused (0 or window 1..3), retry_ms (-1: never), bucket_minute, bucket_day,
--          remaining_r, reset_r_ms, remaining_t, reset_t_ms, remaining_d, reset_d_ms}
key = KEYS[1]
local now = clock(ARGV[1])
local tokens = tonumber(ARGV[2])
local lim = {tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])}
local need = {1, tokens, tokens}
local st = redis.call('HMGET', key, 'rh', 'rt', 'th', 'tt', 'dh', 'dt')
local head, total = {}, {}
for i = 1, 3 do
  if lim[i] > 0 then
    head[i], total[i] = advance(i, tonumber(st[2 * i - 1]), tonumber(st[2 * i]) or 0, math.floor(now / W[i]))
  end
end
local refused = 0
for i = 1, 3 do
  if lim[i] > 0 and total[i] + need[i] > lim[i] then refused = i; break end
end
local retry = 0
local out_heads = {}
if refused == 0 then
  local ttl = 0
  for i = 1, 3 do
    if lim[i] > 0 then
      local m = K[i] + 1
      if need[i] ~= 0 then redis.call('HINCRBY', key, P[i] .. (head[i] % m), need[i]) end
      total[i] = total[i] + need[i]
      out_heads[#out_heads + 1] = P[i] .. 'h'
      out_heads[#out_heads + 1] = head[i]
      out_heads[#out_heads + 1] = P[i] .. 't'
      out_heads[#out_heads + 1] = total[i]
      ttl = math.max(ttl, (K[i] + 2) * W[i])
    end
  end
  redis.call('HSET', key, unpack(out_heads))
  redis.call('PEXPIRE', key, ttl)
else
  for i = 1, 3 do
    if lim[i] > 0 and total[i] + need[i] > lim[i] then
      local wait = -1
      if need[i] <= lim[i] then
        local m = K[i] + 1
        local excess = total[i] + need[i] - lim[i]
        local counts = slots(i, head[i])
        for j = 1, m do
          excess = excess - (tonumber(counts[j]) or 0)
          if excess <= 0 then wait = math.max(0, (head[i] + j) * W[i] - now); break end
        end
      end
      if wait < 0 then retry = -1 break end
      retry = math.max(retry, wait)
    end
  end
end
local out = {refused == 0 and 1 or 0, refused, retry, head[2] or head[1] or 0, head[3] or 0}
for i = 1, 3 do
  local remaining, reset = 0, 0
  if lim[i] > 0 then
    remaining = math.max(0, lim[i] - total[i])
    if total[i] > 0 and refused == 0 and need[i] > 0 then
      reset = math.max(0, (head[i] + K[i] + 1) * W[i] - now)  -- the newest bucket was just charged
    elseif total[i] > 0 then
      local counts = slots(i, head[i])
      for j = K[i] + 1, 1, -1 do
        if (tonumber(counts[j]) or 0) ~= 0 then reset = math.max(0, (head[i] + j) * W[i] - now); break end
      end
    end
  end
  out[#out + 1] = remaining
  out[#out + 1] = reset
end
return out
"""

SETTLE = _COMMON + r"""
-- KEYS: limiter keys. ARGV: now_ms (0: server time), then per key: bucket_minute, bucket_day,
-- delta_tokens, delta_requests. A delta lands in the bucket of its reservation while that still
-- counts; extra usage after it expired is charged to the current bucket.
local now = clock(ARGV[1])
local function adjust(i, h, bucket, delta)
  local m = K[i] + 1
  local b = math.floor(now / W[i])
  local newest = math.max(h, b)
  if bucket > newest - m and bucket <= h then
    local f = P[i] .. (bucket % m)
    local v = redis.call('HINCRBY', key, f, delta)
    if v < 0 then redis.call('HSET', key, f, 0); delta = delta - v end
    redis.call('HINCRBY', key, P[i] .. 't', delta)
  elseif delta > 0 then
    local tot = tonumber(redis.call('HGET', key, P[i] .. 't')) or 0
    h, tot = advance(i, h, tot, b)
    redis.call('HINCRBY', key, P[i] .. (h % m), delta)
    redis.call('HSET', key, P[i] .. 'h', h, P[i] .. 't', tot + delta)
  end
end
for j = 1, #KEYS do
  key = KEYS[j]
  local base = 1 + (j - 1) * 4
  local bm, bd = tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2])
  local dtok, dreq = tonumber(ARGV[base + 3]), tonumber(ARGV[base + 4])
  local st = redis.call('HMGET', key, 'rh', 'th', 'dh')
  if dreq ~= 0 and st[1] then adjust(1, tonumber(st[1]), bm, dreq) end
  if dtok ~= 0 and st[2] then adjust(2, tonumber(st[2]), bm, dtok) end
  if dtok ~= 0 and st[3] then adjust(3, tonumber(st[3]), bd, dtok) end
end
return #KEYS
"""

RESERVE_SHA = hashlib.sha1(RESERVE.encode()).hexdigest()
SETTLE_SHA = hashlib.sha1(SETTLE.encode()).hexdigest()
