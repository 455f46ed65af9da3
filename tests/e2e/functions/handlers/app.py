"""Lambda handlers the end-to-end tests run as hosted functions, unchanged from how they would
run on AWS Lambda (python -m awslambdaric app.<handler>)."""

import json
import os
import time


def echo(event, context):
    print("HELLO-FROM-WORKER", flush=True)
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(
            {
                "path": event["path"],
                "resource": event["resource"],
                "query": event["queryStringParameters"],
                "source_ip": event["requestContext"]["identity"]["sourceIp"],
                "request_id": context.aws_request_id,
                "function": context.function_name,
                "arn": context.invoked_function_arn,
                "remaining_ms": context.get_remaining_time_in_millis(),
                "greeting": os.environ.get("GREETING"),
                "token": os.environ.get("TOKEN"),
                "pid": os.getpid(),
            }
        ),
    }


def fail(event, context):
    raise ValueError("bad input: RAW-DETAIL")


def slow(event, context):
    seconds = float((event.get("queryStringParameters") or {}).get("s", "5"))
    time.sleep(seconds)
    return echo(event, context)


def crash(event, context):
    os._exit(3)


def blue(event, context):
    return {"statusCode": 200, "body": "blue"}


def green(event, context):
    return {"statusCode": 200, "body": "green"}
