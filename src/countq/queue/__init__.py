"""The Redis Stream queue: one stream, one consumer group, one dead-letter stream.

Every key carries the same hash tag ({REDIS_QUEUE}) so scripts work on a Redis
Cluster too. Acked entries are removed by the same script call that acks
them, so XLEN is exactly "not yet stored" and nothing is ever trimmed
unconsumed.

- `client`: connecting (standalone, cluster, TLS, secret logins), the Lua
  scripts in lua/, and the queue's figures;
- `producer`: enqueue under MAX_BACKLOG, for the API (asyncio);
- `consumer`: read, reclaim, ack and dead-letter, for the worker.
"""
