"""The importer: the Lambda inside the private network that can reach RDS.

- `dump`: reading an SQL dump into statements (pure);
- `admin`: MySQL administration as the master user, and the importer lock;
- `run`: the two actions, `provision` and `import`, and their results;
- `handler`: the entry points, the Lambda's `handler` and `countq importer`.

The Lambda zip (scripts/build-importer-zip.sh) ships these modules and what
they import, nothing else of countq.
"""
