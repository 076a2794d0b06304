"""The consumer: Redis stream -> MySQL in batches, ack only after commit.

- `loop`: the loop only (read ahead, store, ack, dead-letter);
- `retry`: how an outage is waited out, and `Stopping` when asked to stop;
- `metrics`: Prometheus counters, the queue gauges and the CloudWatch publisher;
- `main`: the process: signals, the /metrics port, the heartbeat, the loop.
"""
