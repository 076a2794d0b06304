"""The API's routes: `count` (the messages), `ops` (health, readiness, figures, metrics)."""
