-- wrk script: every request is POST /count with a small JSON body.
wrk.method = "POST"
wrk.body = '{"count": 1764283170}'
wrk.headers["Content-Type"] = "application/json"
