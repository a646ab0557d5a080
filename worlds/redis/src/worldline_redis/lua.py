"""The Lua scripts. Each write is one script execution, so it is atomic on the server.

The transition rules are NOT here: Python reads the state (``LOAD``), asks
``worldline.rules.decide``, and ``APPEND`` re-checks every version the decision depended on
before writing anything (optimistic compare-and-swap). Times come from ``TIME``.
"""

from __future__ import annotations

#: helpers shared by the scripts that write queue messages
_LIB = r"""
local function now_secs()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end

local function fmt(x)
  return string.format('%.6f', x)
end

local function wake(knotify)
  redis.call('LPUSH', knotify, '1')
  redis.call('LTRIM', knotify, 0, 63)
end

-- Add a message, de-duplicated by idempotency key; returns the (possibly existing) id.
-- ks = {queue zset, messages, payloads, message keys, acked keys, notify list}
local function enqueue(ks, queue, msg_id, payload, key, delay, retention, now)
  if key ~= '' then
    local existing = redis.call('HGET', ks[4], key)
    if existing then
      local acked = redis.call('ZSCORE', ks[5], key)
      if (not acked) or tonumber(acked) > now - retention then
        return existing
      end
      redis.call('ZREM', ks[5], key)
    end
    redis.call('HSET', ks[4], key, msg_id)
  end
  redis.call('HSET', ks[2], msg_id, cjson.encode(
    {queue = queue, attempt = 0, deliveries = 0, lease_id = '', key = key}))
  redis.call('HSET', ks[3], msg_id, payload)
  redis.call('ZADD', ks[1], fmt(now + delay), msg_id)
  wake(ks[6])
  return msg_id
end
"""

#: helper shared by the scripts that drop a run's hooks
_HOOKS = r"""
-- Release the token of every hook in hash khooks that run_id still holds in ktokens.
local function release_tokens(khooks, ktokens, run_id)
  for _, doc in ipairs(redis.call('HVALS', khooks)) do
    local token = cjson.decode(doc).token
    local holder = redis.call('HGET', ktokens, token)
    if holder and cjson.decode(holder).run_id == run_id then redis.call('HDEL', ktokens, token) end
  end
end
"""

#: KEYS: 1 run, 2 steps, 3 waits, 4 hooks, 5 tokens, 6 idempotency.
#: ARGV: the numbers of step ids, wait ids, hook ids, tokens and idempotency keys, then
#: those ids / tokens / keys in that order.
#: Returns the server time, the run's doc and seq, and one list per group (the entity docs,
#: the docs of the live hooks holding the tokens, the runs holding the keys; nil: none) —
#: everything ``rules.decide`` needs for a batch of events, read atomically.
LOAD = r"""
local t = redis.call('TIME')
local run = redis.call('HMGET', KEYS[1], 'doc', 'seq')
local out = {t[1], t[2], run[1] or '', run[2] or '0'}
local at = 6
for g = 1, 5 do
  local n = tonumber(ARGV[g])
  if n > 0 then
    out[4 + g] = redis.call('HMGET', KEYS[1 + g], unpack(ARGV, at, at + n - 1))
  else
    out[4 + g] = {}
  end
  at = at + n
end
return out
"""

#: KEYS: 1 run, 2 events, 3 steps, 4 waits, 5 hooks, 6 tokens, 7 idempotency,
#:       8 all runs, 9 runs by workflow, 10 old status, 11 new status,
#:       12 old workflow+status, 13 new workflow+status, then 6 keys per queue written
#:       (Keys.queue_keys; an event's enqueue names the first of its group by ``qk``).
#: ARGV[1]: the batch as JSON (see worldline_redis.log._append): the run's final state,
#: the versions to re-check (the run's seq, token and key holders, entities that must not
#: exist yet) and, in order, each appended event with what it changes.
#: Returns {'retry'} if any version moved (nothing written), else {'ok', ''}
#: ({'ok', 'resent'} when a resend finds its own events already appended).
APPEND = _LIB + _HOOKS + r"""
local op = cjson.decode(ARGV[1])
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
if seq ~= op.expect_seq then
  -- a resend of this very call (redis-py retries after a lost reply) already appended it
  if seq > op.expect_seq and redis.call('LINDEX', KEYS[2], op.expect_seq) == op.events[1].event then
    return {'ok', 'resent'}
  end
  return {'retry'}
end
for _, c in ipairs(op.tokens) do
  if (redis.call('HGET', KEYS[6], c[1]) or '') ~= c[2] then return {'retry'} end
end
for _, c in ipairs(op.idem) do
  if (redis.call('HGET', KEYS[7], c[1]) or '') ~= c[2] then return {'retry'} end
end
for _, a in ipairs(op.absent) do
  if redis.call('HEXISTS', KEYS[a[1]], a[2]) == 1 then return {'retry'} end
end

local now = nil
for _, ev in ipairs(op.events) do
  redis.call('RPUSH', KEYS[2], ev.event)
  if ev.entity_doc ~= '' then
    redis.call('HSET', KEYS[ev.ek], ev.entity_id, ev.entity_doc)
    if ev.new_token ~= '' then redis.call('HSET', KEYS[6], ev.new_token, ev.entity_doc) end
  end
  if ev.delete_hook then
    local doc = redis.call('HGET', KEYS[5], ev.entity_id)
    if doc then
      local token = cjson.decode(doc).token
      if redis.call('HGET', KEYS[6], token) == doc then redis.call('HDEL', KEYS[6], token) end
      redis.call('HDEL', KEYS[5], ev.entity_id)
    end
  end
  if ev.clear_children then
    release_tokens(KEYS[5], KEYS[6], op.run_id)
    redis.call('DEL', KEYS[5], KEYS[4])
  end
  if ev.enqueue then
    local e, q = ev.enqueue, ev.enqueue.qk
    if now == nil then now = now_secs() end
    enqueue({KEYS[q], KEYS[q + 1], KEYS[q + 2], KEYS[q + 3], KEYS[q + 4], KEYS[q + 5]},
            e.queue, e.message_id, e.payload, e.key, e.delay, op.retention, now)
  end
end

redis.call('HSET', KEYS[1], 'doc', op.run_doc, 'seq', seq + #op.events)
if op.created then
  redis.call('ZADD', KEYS[8], 0, op.run_id)
  redis.call('ZADD', KEYS[9], 0, op.run_id)
  redis.call('ZADD', KEYS[11], 0, op.run_id)
  redis.call('ZADD', KEYS[13], 0, op.run_id)
  if op.idem_key ~= '' then redis.call('HSET', KEYS[7], op.idem_key, op.run_id) end
elseif op.status_changed then
  redis.call('ZREM', KEYS[10], op.run_id)
  redis.call('ZREM', KEYS[12], op.run_id)
  redis.call('ZADD', KEYS[11], 0, op.run_id)
  redis.call('ZADD', KEYS[13], 0, op.run_id)
end
if op.release_key ~= '' and redis.call('HGET', KEYS[7], op.release_key) == op.run_id then
  redis.call('HDEL', KEYS[7], op.release_key)
end
return {'ok', ''}
"""

#: KEYS: Keys.queue_keys(queue). ARGV: queue, message id, payload, key, delay, retention.
ENQUEUE = _LIB + r"""
return enqueue(KEYS, ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]),
               tonumber(ARGV[6]), now_secs())
"""

#: KEYS: messages, payloads, then one sorted set per queue.
#: ARGV: visibility timeout, limit, then ``limit`` fresh lease ids.
#: Returns {leased: {id, meta, payload}..., seconds until the next message is visible or ''}.
LEASE = _LIB + r"""
local now = now_secs()
local vt, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local found = {}
for i = 3, #KEYS do
  local got = redis.call('ZRANGE', KEYS[i], '-inf', fmt(now), 'BYSCORE', 'LIMIT', 0, limit,
                         'WITHSCORES')
  for j = 1, #got, 2 do
    found[#found + 1] = {KEYS[i], got[j], tonumber(got[j + 1])}
  end
end
table.sort(found, function(a, b) return a[3] < b[3] end)
local out = {}
for i = 1, math.min(limit, #found) do
  local zkey, id = found[i][1], found[i][2]
  local meta = cjson.decode(redis.call('HGET', KEYS[1], id))
  meta.lease_id = ARGV[2 + i]
  meta.deliveries = meta.deliveries + 1
  local encoded = cjson.encode(meta)
  redis.call('HSET', KEYS[1], id, encoded)
  redis.call('ZADD', zkey, fmt(now + vt), id)
  out[#out + 1] = {id, encoded, redis.call('HGET', KEYS[2], id)}
end
local due = ''
if #out == 0 then
  local best = nil
  for i = 3, #KEYS do
    local first = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    if first[2] and (best == nil or tonumber(first[2]) < best) then best = tonumber(first[2]) end
  end
  if best then due = fmt(math.max(0, best - now)) end
end
return {out, due}
"""

#: KEYS: Keys.queue_keys(message.queue). ARGV: how, message id, lease id, seconds, retention.
#: Fenced by the lease id: returns 0 (nothing changed) if the lease was lost.
SETTLE = _LIB + r"""
local how, id = ARGV[1], ARGV[2]
local raw = redis.call('HGET', KEYS[2], id)
if not raw then return 0 end
local meta = cjson.decode(raw)
if meta.lease_id == '' or meta.lease_id ~= ARGV[3] then return 0 end
local now, seconds = now_secs(), tonumber(ARGV[4])
if how == 'ack' then
  redis.call('HDEL', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
  redis.call('ZREM', KEYS[1], id)
  if meta.key ~= '' then redis.call('ZADD', KEYS[5], fmt(now), meta.key) end
  local cutoff = fmt(now - tonumber(ARGV[5]))
  local old = redis.call('ZRANGE', KEYS[5], '-inf', cutoff, 'BYSCORE', 'LIMIT', 0, 100)
  for _, key in ipairs(old) do
    redis.call('HDEL', KEYS[4], key)
    redis.call('ZREM', KEYS[5], key)
  end
elseif how == 'extend' then
  redis.call('ZADD', KEYS[1], fmt(now + seconds), id)
else
  meta.lease_id = ''
  meta.deliveries = 0
  if how == 'retry' then meta.attempt = meta.attempt + 1 end
  redis.call('HSET', KEYS[2], id, cjson.encode(meta))
  redis.call('ZADD', KEYS[1], fmt(now + math.max(0, seconds)), id)
  wake(KEYS[6])
end
return 1
"""

#: KEYS: stream meta hash, stream. ARGV: name, 's' or 'b', chunk.
#: Returns the chunk's index, or -1 if the stream is closed.
STREAM_WRITE = r"""
local raw = redis.call('HGET', KEYS[1], ARGV[1])
local m = raw and cjson.decode(raw) or {chunks = 0, closed = false}
if m.closed then return -1 end
local index = m.chunks
redis.call('XADD', KEYS[2], (index + 1) .. '-0', 't', ARGV[2], 'c', ARGV[3])
m.chunks = index + 1
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(m))
return index
"""

#: KEYS: stream meta hash, stream. ARGV: name. Idempotent.
STREAM_CLOSE = r"""
local raw = redis.call('HGET', KEYS[1], ARGV[1])
local m = raw and cjson.decode(raw) or {chunks = 0, closed = false}
if m.closed then return 0 end
m.closed = true
redis.call('XADD', KEYS[2], (m.chunks + 1) .. '-0', 'eof', '1')
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(m))
return 1
"""


#: KEYS: 1 run, 2 events, 3 steps, 4 waits, 5 hooks, 6 tokens, 7 idempotency, 8 all runs,
#:       9 stream meta, 10 messages, 11 payloads, 12 message keys, 13 acked keys.
#: ARGV: 1 run id, 2 key base ``{prefix}``, 3.. the terminal statuses.
#: Deletes a terminal run with all it owns; returns 0 (nothing changed) if the run is absent
#: or live. The keys that depend on the run's data — its run-list indexes (workflow, status),
#: its Redis Streams, the queues of its messages — are named here from the key base (the same
#: layout as ``worldline_redis.keys``); they share the hash tag, hence the script's slot.
#: The run's messages are found by scanning the payloads of messages in flight (acked ones
#: are gone already); a substring test skips the JSON decode of payloads that cannot name it.
DELETE_RUN = _HOOKS + r"""
local run_id, base = ARGV[1], ARGV[2]
local raw = redis.call('HGET', KEYS[1], 'doc')
if not raw then return 0 end
local run = cjson.decode(raw)
local terminal = false
for i = 3, #ARGV do
  if ARGV[i] == run.status then terminal = true end
end
if not terminal then return 0 end

local wf, st = run.workflow_name, run.status
redis.call('ZREM', KEYS[8], run_id)
redis.call('ZREM', base .. ':runs:wf:' .. wf, run_id)
redis.call('ZREM', base .. ':runs:st:' .. st, run_id)
redis.call('ZREM', base .. ':runs:wfst:' .. st .. ':' .. wf, run_id)
local key = run.idempotency_key
if type(key) == 'string' and key ~= '' and redis.call('HGET', KEYS[7], key) == run_id then
  redis.call('HDEL', KEYS[7], key)
end
release_tokens(KEYS[5], KEYS[6], run_id)
for _, name in ipairs(redis.call('HKEYS', KEYS[9])) do
  redis.call('DEL', base .. ':stream:' .. run_id .. ':' .. name)
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[9])

-- only a payload containing '"<run id>"' verbatim can name the run (ids without characters
-- JSON escapes); for other ids decode every payload
local needle = nil
if string.match(run_id, '^[%w_%-%.:]+$') then needle = '"' .. run_id .. '"' end
local payloads = redis.call('HGETALL', KEYS[11])
for i = 1, #payloads, 2 do
  local id, payload = payloads[i], payloads[i + 1]
  if needle == nil or string.find(payload, needle, 1, true) then
    local doc = cjson.decode(payload)
    if type(doc) == 'table' and doc.run_id == run_id then
      local meta = redis.call('HGET', KEYS[10], id)
      if meta then
        meta = cjson.decode(meta)
        redis.call('ZREM', base .. ':q:' .. meta.queue, id)
        if meta.key ~= '' and redis.call('HGET', KEYS[12], meta.key) == id then
          redis.call('HDEL', KEYS[12], meta.key)
          redis.call('ZREM', KEYS[13], meta.key)
        end
      end
      redis.call('HDEL', KEYS[10], id)
      redis.call('HDEL', KEYS[11], id)
    end
  end
end
return 1
"""
