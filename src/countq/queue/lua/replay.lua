-- Move one dead letter back onto the stream, atomically: the stream gains the
-- message's own fields (id, count, ts: the same message id, so a message that
-- was in fact stored is skipped by the unique key, and the same enqueue time)
-- and the dead-letter stream loses the entry, or nothing changes at all.
-- KEYS: stream, dead
-- ARGV: dead_entry_id, bound, source_entry_field, reason_field
-- (the backlog bound is MAX_BACKLOG; the last two name the fields the
-- dead-letter stream adds to the message's own.)
-- Returns the new stream entry id, or an error reply:
--   "NOENTRY" (no such dead letter), "EMPTY" (it kept no message fields),
--   "BACKLOG <length>" (the stream is at the bound; refusing is what the
--   producer does too, so replaying never pushes the queue past it).
local found = redis.call('XRANGE', KEYS[2], ARGV[1], ARGV[1])[1]
if not found then return redis.error_reply('NOENTRY') end
local length = redis.call('XLEN', KEYS[1])
if length >= tonumber(ARGV[2]) then
  return redis.error_reply('BACKLOG ' .. length)
end
local added_by_dead_letter = { [ARGV[3]] = true, [ARGV[4]] = true }
local fields = {}
local record = found[2]
for i = 1, #record, 2 do
  if not added_by_dead_letter[record[i]] then
    fields[#fields + 1] = record[i]
    fields[#fields + 1] = record[i + 1]
  end
end
if #fields == 0 then return redis.error_reply('EMPTY') end
local new_id = redis.call('XADD', KEYS[1], '*', unpack(fields))
redis.call('XDEL', KEYS[2], ARGV[1])
return new_id
