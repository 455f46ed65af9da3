"""The same handler (app.py) behind a plain HTTP/1.1 server of the same language, the way it would
run without a function platform: python3 server.py PORT."""

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import app


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The head and the body go out in two writes: without TCP_NODELAY the second waits for
    # the client's delayed ACK (about 40 ms a request on Linux).
    disable_nagle_algorithm = True

    def do_GET(self):
        event = {
            "path": self.path.split("?", 1)[0],
            "httpMethod": "GET",
            "headers": dict(self.headers.items()),
            "body": None,
        }
        answer = app.handler(event, None)
        body = answer["body"].encode()
        self.send_response(answer["statusCode"])
        for name, value in answer["headers"].items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
