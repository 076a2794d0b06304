-- Move one entry to the dead-letter stream and ack it, atomically.
-- KEYS: stream, dead
-- ARGV: group, entry_id; per field: name, value
-- (the dead-letter record: countq.queue.keys.dead_letter_call)
redis.call('XADD', KEYS[2], '*', unpack(ARGV, 3))
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return redis.call('XDEL', KEYS[1], ARGV[2])
