"""Handlers the hosted-function tests run under the real awslambdaric."""

import os
import time


def echo(event, context):
    return {
        "event": event,
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "arn": context.invoked_function_arn,
        "memory_mb": context.memory_limit_in_mb,
        "log_group": context.log_group_name,
        "region": os.environ.get("AWS_REGION"),
        "pid": os.getpid(),
    }


def fail(event, context):
    raise ValueError("no good: %s" % event.get("why"))


def sleep(event, context):
    time.sleep(event.get("seconds", 0))
    return {"pid": os.getpid()}


def crash(event, context):
    os._exit(3)


def hog(event, context):
    block = bytearray(event["mib"] * 1024 * 1024)
    return {"allocated": len(block)}


def big(event, context):
    return "x" * (event["mib"] * 1024 * 1024)
