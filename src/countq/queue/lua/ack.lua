-- Ack and remove together, so an acked entry never lingers in XLEN (a script
-- works on a cluster too, where MULTI across a pipeline is not available).
-- Everything older than both the oldest pending entry and the first entry not
-- yet delivered has been acked, so it is trimmed in one XTRIM MINID, far
-- cheaper than XDEL id by id; only acked ids above that floor (another
-- consumer still holds an older batch) are deleted one by one.
-- KEYS: stream
-- ARGV: group; per entry: entry_id
local stream, group = KEYS[1], ARGV[1]
redis.call('XACK', stream, group, unpack(ARGV, 2))

local function id_parts(id)
  local ms, seq = string.match(id, '(%d+)-(%d+)')
  return tonumber(ms), tonumber(seq)
end
local function older(id, than_ms, than_seq)
  local ms, seq = id_parts(id)
  return ms < than_ms or (ms == than_ms and seq < than_seq)
end

local floor = nil
local pending = redis.call('XPENDING', stream, group)
if pending[1] > 0 then floor = pending[2] end
for _, fields in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
  local info = {}
  for i = 1, #fields, 2 do info[fields[i]] = fields[i + 1] end
  if info['name'] == group then
    local undelivered = redis.call('XRANGE', stream,
      '(' .. info['last-delivered-id'], '+', 'COUNT', 1)[1]
    if undelivered and (floor == nil or older(undelivered[1], id_parts(floor))) then
      floor = undelivered[1]
    end
  end
end
if floor == nil then  -- every entry was delivered and acked
  return redis.call('XTRIM', stream, 'MAXLEN', 0)
end
local removed = redis.call('XTRIM', stream, 'MINID', floor)
local floor_ms, floor_seq = id_parts(floor)
local above = {}
for i = 2, #ARGV do
  if not older(ARGV[i], floor_ms, floor_seq) then above[#above + 1] = ARGV[i] end
end
if #above > 0 then removed = removed + redis.call('XDEL', stream, unpack(above)) end
return removed
