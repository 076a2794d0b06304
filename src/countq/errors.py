"""Every exception countq raises, in one hierarchy (httpx's is the model).

    CountqError
    ├── ConfigError          a setting a person must fix (the CLI exits 2)
    ├── SecretError          a secret unreadable, or not the JSON it must be
    ├── QueueError           the Redis queue
    │   ├── BacklogFull      at MAX_BACKLOG: enqueue and replay refuse
    │   ├── NotReplayable    a dead letter without message fields
    │   └── QueueUnavailable Redis did not answer as needed (503)
    │       └── NotReplicated    too few replicas confirmed a write
    ├── StoreError           the MySQL store
    │   ├── Busy             another importer run holds the lock
    │   └── MaintenanceFailed    partition maintenance failed (a Lambda error)
    └── DumpError            an SQL dump the importer cannot split

One name per concept; a module raises these, never a class of its own
(tests/unit/test_errors.py checks it). The classes subclass nothing but
this hierarchy: the importer Lambda imports this module and carries no redis,
so QueueUnavailable is not a RedisError; the producer, the API's handlers
and /ready name it beside RedisError where they handle Redis failures.
The API answers with the class's name in some replies ("queue unavailable
(Redis): NotReplicated"), the Lambda reports it as the errorType: renaming a
class changes what callers see.

The worker's `Stopping` (worker/retry.py) is not here: it is control flow
(the consumer was asked to stop while it waited), never a failure to report.
"""

from __future__ import annotations


class CountqError(Exception):
    """Anything countq itself raises."""


class ConfigError(CountqError):
    """A setting a person must fix. The message is one sentence that names the
    setting (and the server it tried); the CLI prints it and exits 2."""


class SecretError(CountqError):
    """A secret could not be fetched or is not a JSON object of strings."""


class QueueError(CountqError):
    """The Redis queue refused a request or could not serve it."""


class BacklogFull(QueueError):
    """The stream holds MAX_BACKLOG unstored messages: the producer, and a
    dead letter's replay, must refuse rather than pass the bound."""

    def __init__(self, length: int, bound: int) -> None:
        super().__init__(f"backlog is at its bound of {bound} messages")
        self.length = length
        self.bound = bound


class NotReplayable(QueueError):
    """The dead letter kept no message fields (the entry was deleted before it died)."""


class QueueUnavailable(QueueError):
    """Redis did not answer in time, is failing over, or its client failed in a
    way redis-py does not type; the API answers 503 as for any RedisError."""


class NotReplicated(QueueUnavailable):
    """Fewer than REDIS_WAIT_REPLICAS replicas confirmed the write in time: the
    messages may be stored, but a 202 would promise what is not known."""


class StoreError(CountqError):
    """The MySQL store refused what the importer asked of it."""


class Busy(StoreError):
    """Another importer run holds the database's lock."""


class MaintenanceFailed(StoreError):
    """A failed maintain, raised out of the importer's handler: its message is the result as JSON.

    Only an exception makes the invocation a Lambda error. A returned `ok: false`
    is a success to Lambda: its Errors metric stays 0, the schedule's
    asynchronous invocation is not retried and no alarm fires, while new rows
    drift towards the overflow partition. provision and import keep returning
    their result: their callers (deploy.sh, an operator) invoke them
    synchronously and read it.
    """


class DumpError(CountqError):
    """The dump itself is malformed (unterminated string, bad DELIMITER, bad text)."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line
