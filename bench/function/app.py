"""The benchmark's function: a Lambda handler that answers with the request's path. Pylon runs
it under awslambdaric; server.py calls the same function from a plain HTTP server."""

import os
import time

# Microseconds of CPU work per call (BENCH_WORK_US), to weigh the platform's cost against a
# handler that does something.
WORK = int(os.environ.get("BENCH_WORK_US", "0")) / 1e6

def handler(event, context):
    if WORK:
        end = time.perf_counter() + WORK
        while time.perf_counter() < end:
            pass
    return {
        "statusCode": 200,
        "headers": {"content-type": "text/plain"},
        "body": event["path"],
    }
