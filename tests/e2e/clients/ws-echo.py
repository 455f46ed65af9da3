"""A WebSocket echo backend (PyPI `websockets`) for the end-to-end tests.

Prints its port, then echoes every message; `headers` answers with the upgrade request's
headers as JSON and `path` with its path. With a certificate and key as arguments it serves
wss:// (TLS).
"""
import asyncio
import json
import ssl
import sys

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed


async def handler(ws):
    try:
        async for message in ws:
            if message == "headers":
                headers = {k.lower(): v for k, v in ws.request.headers.raw_items()}
                await ws.send(json.dumps(headers))
            elif message == "path":
                await ws.send(ws.request.path)
            else:
                await ws.send(message)
    except ConnectionClosed:
        # The gateway cut it (idle, or the client went): nothing to answer.
        pass


async def main():
    context = None
    if len(sys.argv) == 3:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[1], sys.argv[2])
    async with serve(handler, "127.0.0.1", 0, ssl=context) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()


asyncio.run(main())
