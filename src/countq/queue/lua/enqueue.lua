-- Check the bound and append atomically in one round trip: refusing is the
-- only way to stay bounded without dropping unconsumed entries.
-- KEYS: the stream. ARGV: the bound, then id, count, ts, traceparent per
-- message (countq.messages.new_message; an empty traceparent, tracing off,
-- adds no field). Returns per message its entry id, or 0 when the stream was
-- at the bound.
local length = redis.call('XLEN', KEYS[1])
local bound = tonumber(ARGV[1])
local added = {}
for i = 2, #ARGV, 4 do
  if length >= bound then
    added[#added + 1] = 0
  elseif ARGV[i + 3] == '' then
    added[#added + 1] = redis.call('XADD', KEYS[1], '*',
      'id', ARGV[i], 'count', ARGV[i + 1], 'ts', ARGV[i + 2])
    length = length + 1
  else
    added[#added + 1] = redis.call('XADD', KEYS[1], '*',
      'id', ARGV[i], 'count', ARGV[i + 1], 'ts', ARGV[i + 2], 'traceparent', ARGV[i + 3])
    length = length + 1
  end
end
return added
