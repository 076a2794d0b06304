"""What the tests share besides fixtures: where the services are, the one rule
for a missing tool or service, and how to run countq processes."""
