"""One Tencent key-pair (HMAC) call, for Pylon's end-to-end tests. Run with the venv's python.

Reads a JSON request description from argv[1] or stdin, prints {"status", "headers", "body"}
as JSON on stdout. Fields: secret_id, secret_key, method, url, headers (object, sent and
signed), body (string), signer.

signer "library" (the default): PyPI tencentcloud-apigateway-authorization==0.1.0 signs.
  `Auth(secret_id, secret_key, headers).generateHeaders()` adds `Date` (now) to the given
  headers and signs all of them, in order, with hmac-sha1. It runs unchanged on Python 3.11.
  A stale `X-Date` is made by passing one in `headers`: the library signs it with the rest.
signer "manual": signed here per wire-compat.md, for the algorithms the library lacks:
  `algorithm` (hmac-sha1/256/384/512), `x_date` (default now), `Source` header, signed
  headers "x-date source".
"""

import base64
import email.utils
import hashlib
import hmac
import http.client
import json
import sys
from urllib.parse import urlsplit

DIGESTS = {
    "hmac-sha1": hashlib.sha1,
    "hmac-sha256": hashlib.sha256,
    "hmac-sha384": hashlib.sha384,
    "hmac-sha512": hashlib.sha512,
}


def library_headers(req):
    from apigateway import Auth

    headers = dict(req.get("headers") or {"Source": "pylon-e2e"})
    return Auth(req["secret_id"], req["secret_key"], headers).generateHeaders()


def manual_headers(req):
    algorithm = req.get("algorithm", "hmac-sha256")
    headers = dict(req.get("headers") or {})
    headers["X-Date"] = req.get("x_date") or email.utils.formatdate(usegmt=True)
    headers.setdefault("Source", "pylon-e2e")
    signing = f"x-date: {headers['X-Date']}\nsource: {headers['Source']}"
    digest = hmac.new(
        req["secret_key"].encode(), signing.encode(), DIGESTS[algorithm]
    ).digest()
    signature = base64.b64encode(digest).decode()
    headers["Authorization"] = (
        f'hmac id="{req["secret_id"]}", algorithm="{algorithm}", '
        f'headers="x-date source", signature="{signature}"'
    )
    return headers


def main():
    text = sys.argv[1] if len(sys.argv) > 1 else sys.stdin.read()
    req = json.loads(text)
    if req.get("signer", "library") == "library":
        headers = library_headers(req)
    else:
        headers = manual_headers(req)
    url = urlsplit(req["url"])
    path = url.path or "/"
    if url.query:
        path += "?" + url.query
    conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=20)
    body = req.get("body")
    conn.request(
        req.get("method", "GET").upper(),
        path,
        body=body.encode() if body is not None else None,
        headers=headers,
    )
    res = conn.getresponse()
    raw = res.read().decode("utf-8", "replace")
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = raw
    print(
        json.dumps(
            {
                "status": res.status,
                "headers": {k.lower(): v for k, v in res.getheaders()},
                "body": parsed,
                "sent": headers,
            }
        )
    )


if __name__ == "__main__":
    main()
