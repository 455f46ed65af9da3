#!/usr/bin/env node
// One call through Alibaba's official Node.js SDK (npm aliyun-api-gateway@1.1.6), for Pylon's
// end-to-end tests. Reads a JSON request description from argv[2] or stdin, prints
// {"status", "headers", "body", "error"} as JSON on stdout.
//
// Request description:
//   client      "client" (AppKey/AppSecret signature, the default) or "simple" (AppCode)
//   app_key, app_secret, app_code
//   method      GET | POST | PUT | DELETE
//   url         e.g. "http://127.0.0.1:8080/orders?fixed=1"
//   query       object, merged into the URL's query by the SDK
//   form        object: sent as application/x-www-form-urlencoded (the SDK signs the fields)
//   json        any JSON value: sent as application/json (the SDK adds Content-MD5)
//   headers     object, e.g. {"X-Ca-Stage": "TEST"}; the SDK signs every x-ca-* header
//   sign_headers object: extra headers the SDK sends and signs (its `signHeaders` option)
//   stage       the Client's stage (constructor argument; sent and signed as X-Ca-Stage)
//   timestamp   X-Ca-Timestamp to sign and send instead of now (a stale one, say)
//   nonce       X-Ca-Nonce to sign and send instead of a fresh uuid (to reuse one)
//   tamper_body string sent as the body instead of the one the SDK signed
//
// How the knobs use the SDK (lib/client.js, lib/base.js):
// - timestamp and nonce go in as `x-ca-timestamp` / `x-ca-nonce` headers: the SDK's
//   buildHeaders() lays the caller's headers over its own defaults, then signs them.
// - tamper_body wraps `httpx.request` (the HTTP function the SDK calls after signing) and swaps
//   `opts.data`: the SDK computed Content-MD5 and the signature over the original body.
// - The same wrapper keeps the response object: the SDK throws on a non-2xx status with only
//   the headers, and returns only the body on success, so status, headers and body are read
//   from the response here.
// - SimpleClient ignores every option except the body, so it cannot send X-Ca-Stage or a Host:
//   the tests bind the gateway's loopback address as the group's domain for RELEASE, and
//   `localhost` as a domain bound to TEST.
'use strict';

const path = require('path');
const fs = require('fs');

const clientsDir = process.env.PYLON_CLIENTS_DIR ||
  path.join(process.env.HOME || '/root', '.cache', 'pylon-clients');
const sdkDir = path.join(clientsDir, 'node', 'node_modules', 'aliyun-api-gateway');
const sdk = require(sdkDir);
// Exactly the module instance the SDK itself required.
const httpx = require(require.resolve('httpx', { paths: [sdkDir] }));

function readInput() {
  const text = process.argv[2] || fs.readFileSync(0, 'utf8');
  return JSON.parse(text);
}

async function main() {
  const req = readInput();
  let response = null;
  const originalRequest = httpx.request;
  httpx.request = async function (url, opts) {
    if (req.tamper_body !== undefined) {
      opts.data = req.tamper_body;
    }
    response = await originalRequest.call(this, url, opts);
    return response;
  };

  const headers = Object.assign({}, req.headers || {});
  if (req.timestamp !== undefined) headers['x-ca-timestamp'] = String(req.timestamp);
  if (req.nonce !== undefined) headers['x-ca-nonce'] = req.nonce;

  const opts = { headers, timeout: 20000 };
  if (req.sign_headers) opts.signHeaders = req.sign_headers;
  if (req.query) opts.query = req.query;
  if (req.form !== undefined) {
    headers['content-type'] = sdk.CONTENT_TYPE_FORM;
    opts.data = req.form;
  } else if (req.json !== undefined) {
    headers['content-type'] = sdk.CONTENT_TYPE_JSON;
    opts.data = req.json;
  }

  const client = (req.client || 'client') === 'simple'
    ? new sdk.SimpleClient(req.app_code)
    : new sdk.Client(req.app_key, req.app_secret, req.stage || 'RELEASE');
  const method = (req.method || 'GET').toLowerCase();

  let body = null;
  let error = null;
  try {
    body = await client[method](req.url, opts);
  } catch (e) {
    error = e.message;
    if (!response) throw e;
    // The SDK threw before reading the body; read it to report the gateway's JSON error.
    const text = await httpx.read(response, 'utf8');
    try { body = JSON.parse(text); } catch (_) { body = text; }
  }
  if (typeof body === 'string') {
    try { body = JSON.parse(body); } catch (_) { /* not JSON: keep the text */ }
  }
  process.stdout.write(JSON.stringify({
    status: response.statusCode,
    headers: response.headers,
    body,
    error,
  }) + '\n');
}

main().catch((e) => {
  process.stderr.write(`aliyun-node.js: ${e.stack || e}\n`);
  process.exit(2);
});
