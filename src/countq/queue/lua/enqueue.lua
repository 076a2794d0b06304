-- Check the bound and append atomically in one round trip: refusing is the
-- only way to stay bounded without dropping unconsumed entries.
-- KEYS: stream
-- ARGV: bound, id_field, count_field, ts_field, traceparent_field; per message: id, count, ts, traceparent
-- (countq.queue.keys.enqueue_call; the field names come first, so no name is
-- written here; an empty traceparent, tracing off, adds no field.) Returns per
-- message its entry id, or 0 when the stream was at the bound.
local length = redis.call('XLEN', KEYS[1])
local bound = tonumber(ARGV[1])
local id, count, ts, traceparent = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local added = {}
for i = 6, #ARGV, 4 do
  if length >= bound then
    added[#added + 1] = 0
  elseif ARGV[i + 3] == '' then
    added[#added + 1] = redis.call('XADD', KEYS[1], '*',
      id, ARGV[i], count, ARGV[i + 1], ts, ARGV[i + 2])
    length = length + 1
  else
    added[#added + 1] = redis.call('XADD', KEYS[1], '*',
      id, ARGV[i], count, ARGV[i + 1], ts, ARGV[i + 2], traceparent, ARGV[i + 3])
    length = length + 1
  end
end
return added
