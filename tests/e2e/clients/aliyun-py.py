"""One call through Alibaba's Python signing demo (PyPI aliyun-api-gateway-sign==1.0.4, package
`com.aliyun.api.gateway.sdk`), for Pylon's end-to-end tests. Run with the venv's python.

Reads a JSON request description from argv[1] or stdin, prints {"status", "headers", "body"}
as JSON on stdout. Fields: app_key, app_secret, method, url ("http://127.0.0.1:8080/path"),
query (object), form (object), json (any JSON value), headers (object, e.g.
{"X-Ca-Stage": "TEST"}), stage, timestamp, nonce.

The demo is Python 3 code (http.client, urllib.parse) and its signing path runs unchanged on
3.11; only its unused helpers url_encoder.py and ParamUtil.py are Python 2 (never imported).
It cannot, unchanged, do three things the tests need; this script adds the smallest shims,
none of which touches how it builds the string to sign or the signature:
1. Port: `DefaultClient.execute` builds its `Response` without a port, so it always connects to
   80 (443). `PortResponse` passes the port of the request's host URL instead.
2. Extra headers: `DefaultClient.build_headers` keeps none of the request's headers but Accept,
   so X-Ca-Stage cannot be sent. `build_sign_str` is wrapped to add the caller's headers (and a
   timestamp or nonce override) to the demo's header dict just before the demo signs it; the
   demo's `_format_header` then signs every `X-Ca-*` key in it, as it does its own.
3. JSON bodies: the demo sends a non-form body, with Content-MD5, only when the content type is
   exactly `application/octet-stream` (its "stream" mode); with `application/json` it treats the
   body as a form dict and fails. So `json` is sent in stream mode: the JSON text as
   application/octet-stream with the demo's Content-MD5.
The demo also prints exceptions to stdout and returns (None, None, None); stdout is redirected
to stderr during the call so that only this script's JSON reaches stdout.
"""

import contextlib
import json
import sys
from urllib.parse import urlencode, urlsplit

from com.aliyun.api.gateway.sdk import client as demo_client
from com.aliyun.api.gateway.sdk.auth import signature_composer
from com.aliyun.api.gateway.sdk.common import constant
from com.aliyun.api.gateway.sdk.http import request as demo_request
from com.aliyun.api.gateway.sdk.http.response import Response


class PortResponse(Response):
    def __init__(self, host=None, **kwargs):
        super().__init__(host=host, port=urlsplit(host).port, **kwargs)


def main():
    text = sys.argv[1] if len(sys.argv) > 1 else sys.stdin.read()
    req = json.loads(text)

    extra = dict(req.get("headers") or {})
    if req.get("stage"):
        extra["X-Ca-Stage"] = req["stage"]
    if req.get("timestamp") is not None:
        extra[constant.X_CA_TIMESTAMP] = str(req["timestamp"])
    if req.get("nonce") is not None:
        extra[constant.X_CA_NONCE] = req["nonce"]

    original_build_sign_str = signature_composer.build_sign_str

    def build_sign_str(uri=None, method=None, headers=None, body=None):
        headers.update(extra)
        return original_build_sign_str(uri=uri, method=method, headers=headers, body=body)

    signature_composer.build_sign_str = build_sign_str
    demo_client.Response = PortResponse

    parts = urlsplit(req["url"])
    path = parts.path or "/"
    query = parts.query
    if req.get("query"):
        query = "&".join(q for q in [query, urlencode(req["query"])] if q)
    if query:
        path += "?" + query

    r = demo_request.Request(
        host=f"{parts.scheme}://{parts.netloc}",
        protocol=constant.HTTP,
        url=path,
        method=req.get("method", "GET").upper(),
        time_out=20,
    )
    if req.get("form") is not None:
        r.set_content_type(constant.CONTENT_TYPE_FORM)
        r.set_body(dict(req["form"]))
    elif req.get("json") is not None:
        r.set_content_type(constant.CONTENT_TYPE_STREAM)
        r.set_body(json.dumps(req["json"]).encode("utf-8"))
    else:
        r.set_content_type(constant.CONTENT_TYPE_JSON)

    client = demo_client.DefaultClient(
        app_key=req["app_key"], app_secret=req["app_secret"], time_out=20
    )
    with contextlib.redirect_stdout(sys.stderr):
        status, headers, body = client.execute(r)
    if status is None:
        sys.exit("aliyun-py.py: the demo's request failed (its message is above)")
    try:
        body = json.loads(body)
    except ValueError:
        pass
    print(
        json.dumps(
            {
                "status": status,
                "headers": {k.lower(): v for k, v in headers},
                "body": body,
            }
        )
    )


if __name__ == "__main__":
    main()
