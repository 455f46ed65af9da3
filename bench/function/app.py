"""The benchmark's function: a Lambda handler that answers with the request's path. Pylon runs
it under awslambdaric; server.py calls the same function from a plain HTTP server."""


def handler(event, context):
    return {
        "statusCode": 200,
        "headers": {"content-type": "text/plain"},
        "body": event["path"],
    }
