-- Check the bound and append atomically in one round trip: refusing is the
-- only way to stay bounded without dropping unconsumed entries.
-- KEYS: the stream. ARGV: the bound, then id, count, ts per message
-- (countq.messages.new_message). Returns per message its entry id, or 0 when
-- the stream was at the bound.
local length = redis.call('XLEN', KEYS[1])
local bound = tonumber(ARGV[1])
local added = {}
for i = 2, #ARGV, 3 do
  if length >= bound then
    added[#added + 1] = 0
  else
    added[#added + 1] = redis.call('XADD', KEYS[1], '*',
      'id', ARGV[i], 'count', ARGV[i + 1], 'ts', ARGV[i + 2])
    length = length + 1
  end
end
return added
