-- Move one entry to the dead-letter stream and ack it, atomically.
-- KEYS: the stream, the dead-letter stream. ARGV: the group, the entry id,
-- then field/value pairs for the dead-letter record.
redis.call('XADD', KEYS[2], '*', unpack(ARGV, 3))
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return redis.call('XDEL', KEYS[1], ARGV[2])
