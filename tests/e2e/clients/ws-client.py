"""A WebSocket client (PyPI `websockets`) for the end-to-end tests.

Argument: JSON {"url", "headers"?, "app_key"?, "app_secret"?, "path"?, "ca_file"?} (`ca_file`
verifies a wss:// gateway). With an AppKey it
signs the upgrade request as Alibaba's APP signature (HmacSHA256 over the string to sign of a
GET with no body, signing X-Ca-Key and X-Ca-Timestamp). Prints one JSON line per event:
{"open": true}, then for each line read on stdin the message sent back ({"reply": ...}),
{"closed": code} when the server ends it, or {"refused": status, "headers", "body"}.
"""
import asyncio
import base64
import hashlib
import hmac
import json
import ssl
import sys
import time

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus


def signed(cfg):
    headers = dict(cfg.get("headers", {}))
    if "app_key" not in cfg:
        return headers
    stamp = str(int(time.time() * 1000))
    headers.update({
        "X-Ca-Key": cfg["app_key"],
        "X-Ca-Timestamp": stamp,
        "X-Ca-Signature-Method": "HmacSHA256",
        "X-Ca-Signature-Headers": "x-ca-key,x-ca-timestamp",
    })
    to_sign = "GET\n\n\n\n\n" + f"x-ca-key:{cfg['app_key']}\nx-ca-timestamp:{stamp}\n" + cfg["path"]
    digest = hmac.new(cfg["app_secret"].encode(), to_sign.encode(), hashlib.sha256).digest()
    headers["X-Ca-Signature"] = base64.b64encode(digest).decode()
    return headers


def emit(event):
    print(json.dumps(event), flush=True)


async def main():
    cfg = json.loads(sys.argv[1])
    loop = asyncio.get_running_loop()
    context = None
    if "ca_file" in cfg:
        context = ssl.create_default_context(cafile=cfg["ca_file"])
    try:
        async with connect(
            cfg["url"], additional_headers=signed(cfg), open_timeout=10, ssl=context
        ) as ws:
            emit({"open": True})
            while True:
                line = await loop.run_in_executor(None, sys.stdin.readline)
                if not line:
                    break
                try:
                    await ws.send(line.rstrip("\n"))
                    emit({"reply": await asyncio.wait_for(ws.recv(), 10)})
                except ConnectionClosed as e:
                    emit({"closed": e.rcvd.code if e.rcvd else None})
                    return
    except InvalidStatus as e:
        emit({
            "refused": e.response.status_code,
            "headers": {k.lower(): v for k, v in e.response.headers.raw_items()},
            "body": e.response.body.decode(errors="replace") if e.response.body else "",
        })


asyncio.run(main())
