"""A function endpoint written to each provider's invoke contract, for the end-to-end tests.

  POST /2015-03-31/functions/<name>/invocations   the Lambda Invoke API (as the runtime
                                                  interface emulator serves it)
  POST /invoke                                    Function Compute's custom runtime
  POST <any other path>                           a plain POST of the event (Tencent)

The handler is chosen by the last segment of the event's request path: echo, binary,
malformed, sleep, error, raw. Prints its port on the first line of stdout.
"""

import base64
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def handler(event, contract, seen_headers):
    path = event.get("path") or event.get("rawPath") or ""
    mode = path.rstrip("/").rsplit("/", 1)[-1]
    if mode == "sleep":
        time.sleep(3)
        mode = "echo"
    if mode == "error":
        raise ValueError("boom: RAW-FUNCTION-DETAIL")
    if mode == "malformed":
        return {"status": 200, "body": "RAW-FUNCTION-OUTPUT"}
    if mode == "raw":
        return {"hello": "world", "contract": contract}
    if mode == "binary":
        body = event.get("body") or ""
        data = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
        return {
            "isBase64Encoded": True,
            "statusCode": 200,
            "headers": {"Content-Type": "image/png"},
            "body": base64.b64encode(data[::-1]).decode(),
        }
    answer = {
        "isBase64Encoded": False,
        "statusCode": 201,
        "headers": {"Content-Type": "application/json", "X-Function": contract},
        "body": json.dumps({"event": event, "invoke_headers": seen_headers}),
    }
    if contract == "lambda":
        answer["multiValueHeaders"] = {"X-Many": ["a", "b"]}
    else:
        answer["headers"]["X-Many"] = ["a", "b"]
    return answer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        event = json.loads(self.rfile.read(length) or b"{}")
        if self.path.startswith("/2015-03-31/functions/"):
            contract = "lambda"
        elif self.path == "/invoke":
            contract = "fc"
        else:
            contract = "scf"
        seen = {k.lower(): v for k, v in self.headers.items()}
        seen["x-invoke-path"] = self.path
        status, extra = 200, {}
        try:
            answer = handler(event, contract, seen)
        except Exception as e:  # the provider's error answer
            answer = {"errorType": type(e).__name__, "errorMessage": str(e)}
            if contract == "lambda":
                extra = {"X-Amz-Function-Error": "Unhandled"}
            elif contract == "fc":
                status, extra = 404, {"x-fc-status": "404"}
            else:
                status = 500
        body = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for k, v in extra.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
