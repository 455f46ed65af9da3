// Pylon's web console in a real browser: Debian's chromium driven by playwright-core, against
// the real `pylon` binary (PYLON_BIN) on loopback ports it picks itself. Run by
// tests/e2e/console.rs (`cargo test`), which installs playwright-core and passes:
//   PYLON_BIN, CONSOLE_NODE_MODULES, CHROMIUM, CONSOLE_SCREENSHOTS (where each page's
//   screenshot goes), CLIENTS_NODE_MODULES (Alibaba's Node SDK, npm aliyun-api-gateway).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

const require = createRequire(`${process.env.CONSOLE_NODE_MODULES}/`);
const { chromium } = require('playwright-core');

const SHOTS = process.env.CONSOLE_SCREENSHOTS || path.join(tmpdir(), 'pylon-console-shots');
mkdirSync(SHOTS, { recursive: true });

/** A `pylon serve` of its own: its admin URL and token; stopped by the caller, which also
 * removes its data directory. */
async function startPylon(extra = []) {
  const dir = mkdtempSync(path.join(tmpdir(), 'pylon-console-'));
  const token = `console-test-token-${Math.random().toString(36).slice(2)}`;
  const child = spawn(process.env.PYLON_BIN, [
    'serve', '--data-dir', path.join(dir, 'data'), '--listen', '127.0.0.1:0',
    '--admin-listen', '127.0.0.1:0', '--status-listen', '127.0.0.1:0', '--access-log', 'off',
    ...extra,
  ], { env: { ...process.env, PYLON_ADMIN_TOKEN: token }, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const lines = readline.createInterface({ input: child.stdout });
  let gateway;
  const admin = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('pylon did not start')), 20000);
    lines.on('line', (line) => {
      const g = line.match(/^pylon gateway listening on (.*)$/);
      if (g) gateway = g[1];
      const m = line.match(/^pylon admin listening on (.*)$/);
      if (m) { clearTimeout(timer); resolve(`http://${m[1]}`); }
    });
    child.on('exit', (code) => reject(new Error(`pylon exited with ${code}`)));
  });
  const stop = async () => {
    child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  return { admin, gateway, token, stop };
}

/** A REST call with the bearer token. */
async function rest(pylon, method, route, body) {
  const res = await fetch(`${pylon.admin}${route}`, {
    method,
    headers: { authorization: `Bearer ${pylon.token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

async function signIn(page, pylon) {
  await page.goto(`${pylon.admin}/console/login`);
  await page.getByLabel('Admin token').fill(pylon.token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${pylon.admin}/console`);
}

let browser;
let pylon;

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox'],
  });
  pylon = await startPylon();
});

after(async () => {
  await browser?.close();
  await pylon?.stop();
});

test('sign-in refuses a wrong token, then keeps the token out of URLs, pages and storage', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const first = await page.goto(`${pylon.admin}/console`);
  assert.equal(new URL(page.url()).pathname, '/console/login', 'signed out: the sign-in page');
  const csp = first.headers()['content-security-policy'];
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline/);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'token', 'the token field has focus');
  await shot(page, 'login');

  await page.getByLabel('Admin token').fill('not-the-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await assert.doesNotReject(page.getByText('That is not the admin token.').waitFor());
  assert.equal(await page.getByLabel('Admin token').getAttribute('aria-invalid'), 'true');
  assert.equal((await context.cookies()).length, 0, 'no session for a wrong token');
  await shot(page, 'login-refused');

  await signIn(page, pylon);
  const [cookie] = await context.cookies();
  assert.equal(cookie.name, 'pylon_console');
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Strict');
  assert.equal(cookie.path, '/console');
  assert.ok(!page.url().includes(pylon.token));
  assert.ok(!(await page.content()).includes(pylon.token), 'the token is not in the page');
  const stored = await page.evaluate(() => JSON.stringify([{ ...localStorage }, { ...sessionStorage }]));
  assert.ok(!stored.includes(pylon.token), `the token is not in browser storage: ${stored}`);
  assert.ok(!stored.includes(cookie.value), `nor the session: ${stored}`);
  assert.equal(await page.locator('script:not([src])').count(), 0, 'no inline script');
  await shot(page, 'home');

  // Behind a TLS-terminating proxy the cookie is `Secure`.
  const proxied = await fetch(`${pylon.admin}/console/login`, {
    method: 'POST', redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-proto': 'https' },
    body: `token=${encodeURIComponent(pylon.token)}`,
  });
  assert.equal(proxied.status, 303);
  assert.match(proxied.headers.get('set-cookie'), /; Secure/);

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(`${pylon.admin}/console/login`);
  await page.goto(`${pylon.admin}/console/groups`);
  assert.equal(new URL(page.url()).pathname, '/console/login', 'signed out for good');
  await context.close();
});

test('groups: a field error next to its field, then a group the REST API sees', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, pylon);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Groups' }).click();
  await page.getByLabel('Name').fill('x'.repeat(61));
  await page.getByRole('button', { name: 'Create group' }).click();
  const error = page.locator('#name-error');
  await error.waitFor();
  assert.match(await error.textContent(), /60/, 'the API\'s own message');
  assert.equal(await page.getByLabel('Name').getAttribute('aria-invalid'), 'true');
  await shot(page, 'groups-field-error');

  await page.getByLabel('Name').fill('shop');
  await page.getByLabel('Description').fill('the online shop');
  await page.getByRole('button', { name: 'Create group' }).click();
  await page.waitForURL(/\/console\/groups\/[0-9a-f]{16}$/);
  assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'shop');
  const id = page.url().split('/').pop();
  assert.ok((await page.content()).includes(`${id}.localhost`), 'the default subdomain');
  await shot(page, 'group');

  const listed = await rest(pylon, 'GET', '/v1/groups');
  assert.ok(listed.json.some((g) => g.id === id && g.name === 'shop'), 'one store behind both');

  // The same rule as the REST API: a second `shop` is refused, next to the name.
  await page.goto(`${pylon.admin}/console/groups`);
  await page.getByLabel('Name').fill('shop');
  await page.getByRole('button', { name: 'Create group' }).click();
  await page.locator('#name-error').waitFor();
  assert.match(await page.locator('#name-error').textContent(), /already exists/);
  await context.close();
});

test('lists are paginated and searched as you type', async () => {
  for (let i = 0; i < 60; i += 1) {
    const r = await rest(pylon, 'POST', '/v1/groups', { name: `team-${String(i).padStart(2, '0')}` });
    assert.equal(r.status, 201);
  }
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, pylon);
  await page.goto(`${pylon.admin}/console/groups`);
  assert.match(await page.locator('.pages').textContent(), /page 1 of 2/);
  assert.equal(await page.locator('#group-list tbody tr').count(), 50);
  await page.getByRole('link', { name: 'Next' }).click();
  assert.match(await page.locator('.pages').textContent(), /page 2 of 2/);
  await shot(page, 'groups');

  await page.goto(`${pylon.admin}/console/groups`);
  await page.getByLabel('Search groups').pressSequentially('team-4');
  await page.waitForFunction(() => document.querySelectorAll('#group-list tbody tr').length === 10);
  assert.match(page.url(), /q=team-4/, 'the search is in the address, for the back button');
  await shot(page, 'groups-search');

  // A phone's width: nothing wider than the screen.
  await page.setViewportSize({ width: 375, height: 740 });
  await page.goto(`${pylon.admin}/console/groups`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than a phone`);
  await shot(page, 'groups-phone');
  await context.close();
});

test('a state change without its CSRF token is refused', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, pylon);
  const form = { name: 'forged', description: '' };
  const without = await page.request.post(`${pylon.admin}/console/groups`, { form, maxRedirects: 0 });
  assert.equal(without.status(), 403);
  const wrong = await page.request.post(`${pylon.admin}/console/groups`, {
    form: { ...form, _csrf: 'f'.repeat(64) }, maxRedirects: 0,
  });
  assert.equal(wrong.status(), 403);
  assert.match(await wrong.text(), /CSRF/);
  const listed = await rest(pylon, 'GET', '/v1/groups');
  assert.ok(!listed.json.some((g) => g.name === 'forged'), 'nothing was created');
  await context.close();
});

test('a session expires', async () => {
  const short = await startPylon(['--console-session-ttl', '2s']);
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, short);
    await page.goto(`${short.admin}/console/groups`);
    assert.equal(new URL(page.url()).pathname, '/console/groups');
    await new Promise((r) => setTimeout(r, 2500));
    await page.goto(`${short.admin}/console/groups`);
    assert.equal(new URL(page.url()).pathname, '/console/login', 'expired: sign in again');
    await context.close();
  } finally {
    await short.stop();
  }
});

test('apps: created on a form, AppSecrets only on an explicit reveal, AppCodes added', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, pylon);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Apps' }).click();
  await page.getByLabel('Name').fill('mobile');
  await page.getByLabel('Description').fill('the phone app');
  await page.getByRole('button', { name: 'Create app' }).click();
  await page.waitForURL(/\/console\/apps\/[0-9a-f]{16}$/);
  const id = page.url().split('/').pop();

  const keys = (await rest(pylon, 'GET', `/v1/apps/${id}/keys`)).json;
  assert.equal(keys.length, 1, 'created with its first key pair');
  const appKey = keys[0].app_key;
  const { json: pair } = await rest(pylon, 'GET', `/v1/apps/${id}/keys/${appKey}/secret`);
  assert.ok(!(await page.content()).includes(pair.app_secret), 'the secret is not in the page');
  await page.getByRole('button', { name: `Reveal the AppSecret of ${appKey}` }).click();
  await page.locator('#keys code.secret').waitFor();
  assert.equal(await page.locator('#keys code.secret').textContent(), pair.app_secret);
  await page.reload();
  assert.ok(!(await page.content()).includes(pair.app_secret), 'hidden again after a reload');

  await page.getByRole('button', { name: 'Add an AppCode' }).click();
  await page.locator('#codes code.appcode').waitFor();
  const shown = await page.locator('#codes code.appcode').textContent();
  const codes = (await rest(pylon, 'GET', `/v1/apps/${id}/codes`)).json;
  assert.deepEqual(codes.map((c) => c.code), [shown]);

  await page.getByRole('button', { name: 'Add a key pair' }).click();
  await page.waitForFunction(() => document.querySelectorAll('#keys tbody tr').length === 2);
  await page.getByRole('button', { name: `Delete key pair ${appKey}` }).click();
  await page.waitForFunction(() => document.querySelectorAll('#keys tbody tr').length === 1);
  const left = (await rest(pylon, 'GET', `/v1/apps/${id}/keys`)).json;
  assert.ok(!left.some((k) => k.app_key === appKey), 'the deleted pair is gone from the API too');
  await shot(page, 'app');
  await context.close();
});

/** What the SDK returns: the parsed body, or its bytes. */
function asJson(body) {
  return typeof body === 'object' && !Buffer.isBuffer(body) ? body : JSON.parse(String(body));
}

/** A private backend on loopback: answers every request with what it received, as JSON. */
async function startBackend(name = 'backend') {
  const server = http.createServer((req, res) => {
    const body = JSON.stringify({ path: req.url, method: req.method, name, headers: req.headers });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => server.close() };
}

test("Alibaba's tutorial, all in the console, then a call with the official Node SDK", async () => {
  const backend = await startBackend();
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    await signIn(page, pylon);
    // A group, with the gateway's own address as its RELEASE domain: the SDK's SimpleClient
    // sends no Host of its own.
    await page.goto(`${pylon.admin}/console/groups`);
    await page.getByLabel('Name', { exact: true }).fill('tutorial');
    await page.getByRole('button', { name: 'Create group', exact: true }).click();
    await page.waitForURL(/\/console\/groups\/[0-9a-f]{16}$/);
    const groupUrl = page.url();
    await page.getByLabel('Bind a domain', { exact: true }).fill('127.0.0.1');
    await page.getByLabel('Bound environment', { exact: true }).selectOption('RELEASE');
    await page.getByRole('button', { name: 'Bind domain', exact: true }).click();
    await page.waitForURL(groupUrl);
    assert.match(await page.locator('table').nth(1).textContent(), /127\.0\.0\.1/);

    // The private backend behind an upstream (the VPC access authorization).
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Upstreams', exact: true }).click();
    await page.getByLabel('Name', { exact: true }).fill('tutorial-vpc');
    await page.getByLabel('Targets (one host:port a line)', { exact: true }).fill(new URL(backend.url).host);
    await page.getByRole('button', { name: 'Create upstream', exact: true }).click();
    await page.waitForURL(/\/console\/upstreams\/[0-9a-f]{16}$/);
    await page.goto(groupUrl);

    // The API, in four steps.
    await page.getByRole('link', { name: 'Create an API' }).click();
    await page.getByLabel('API name', { exact: true }).fill('hello');
    await page.getByLabel('Authentication', { exact: true }).selectOption('app');
    await page.getByLabel('AppCode (APP authentication only)', { exact: true }).selectOption('header');
    await shot(page, 'api-wizard-1');
    await page.getByRole('button', { name: 'Next', exact: true }).click();
    await page.getByLabel('Method', { exact: true }).selectOption('GET');
    await page.getByLabel('Path', { exact: true }).fill('/hello');
    await page.getByLabel('Parameter 1 name', { exact: true }).fill('lang');
    await shot(page, 'api-wizard-2');
    await page.getByRole('button', { name: 'Next', exact: true }).click();
    await page.getByLabel('Backend type', { exact: true }).selectOption('upstream');
    await page.getByLabel('Upstream (upstream type)', { exact: true }).selectOption('tutorial-vpc');
    await page.getByLabel('Backend path', { exact: true }).fill('/private');
    await shot(page, 'api-wizard-3');
    await page.getByRole('button', { name: 'Next', exact: true }).click();
    await page.getByLabel('Success example', { exact: true }).fill('{"path": "/private"}');
    await shot(page, 'api-wizard-4');
    await page.getByRole('button', { name: 'Create API', exact: true }).click();
    await page.waitForURL(/\/apis\/[0-9a-f]{16}$/);
    const apiUrl = page.url();

    // Publish to RELEASE with a note.
    await page.locator('#publish-environment').selectOption('RELEASE');
    await page.getByLabel('Note', { exact: true }).fill('first');
    await page.getByRole('button', { name: 'Publish', exact: true }).click();
    await page.getByText('Published version 1 to RELEASE').waitFor();

    // An app with an AppCode, authorized for the API in RELEASE.
    await page.goto(`${pylon.admin}/console/apps`);
    await page.getByLabel('Name', { exact: true }).fill('tutorial-caller');
    await page.getByRole('button', { name: 'Create app', exact: true }).click();
    await page.waitForURL(/\/console\/apps\/[0-9a-f]{16}$/);
    await page.getByRole('button', { name: 'Add an AppCode', exact: true }).click();
    await page.locator('#codes code.appcode').waitFor();
    const appCode = (await page.locator('#codes code.appcode').textContent()).trim();
    await page.goto(apiUrl);
    await page.getByLabel('App', { exact: true }).selectOption({ label: 'tutorial-caller' });
    await page.locator('#authorize-environment').selectOption('RELEASE');
    await page.getByRole('button', { name: 'Authorize', exact: true }).click();
    await page.getByText('Authorized in RELEASE').waitFor();
    await shot(page, 'api');

    // Online debugging: the app signs, the request runs through the real pipeline.
    await page.getByRole('link', { name: 'Debug this API', exact: true }).click();
    await page.getByLabel('Environment', { exact: true }).selectOption('RELEASE');
    await page.getByLabel('App (signs the request)', { exact: true }).selectOption({ label: 'tutorial-caller' });
    await page.getByLabel('lang (query)', { exact: true }).fill('en');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    await page.locator('#debug-status').waitFor();
    assert.match(await page.locator('#debug-status').textContent(), /Status 200/);
    assert.match(await page.locator('#debug-backend-request').textContent(), /\/private\?lang=en/);
    await shot(page, 'api-debug');
    await page.goto(apiUrl);

    // The call, with the AppCode the console showed.
    const require = createRequire(`${process.env.CLIENTS_NODE_MODULES}/`);
    const sdk = require('aliyun-api-gateway');
    const client = new sdk.SimpleClient(appCode);
    const answer = asJson(await client.get(`http://${pylon.gateway}/hello?lang=en`, { timeout: 10000 }));
    assert.equal(answer.path, '/private?lang=en');

    // A draft change (here through the REST API) shows as a banner and a diff until published.
    const [groupId, , apiId] = new URL(apiUrl).pathname.split('/').slice(3);
    const { json: draft } = await rest(pylon, 'GET', `/v1/groups/${groupId}/apis/${apiId}`);
    const { id: _id, group_id: _g, created_at: _c, updated_at: _u, ...spec } = draft;
    spec.backend.path = '/v2';
    assert.equal((await rest(pylon, 'PUT', `/v1/groups/${groupId}/apis/${apiId}`, spec)).status, 200);
    await page.goto(apiUrl);
    await page.getByText('The draft has changes not published in RELEASE').waitFor();
    assert.match(await page.locator('pre.diff .del').first().textContent(), /"\/private"/);
    assert.match(await page.locator('pre.diff .ins').first().textContent(), /"\/v2"/);
    await shot(page, 'api-draft');
    await page.getByLabel('Note', { exact: true }).fill('v2 path');
    await page.getByRole('button', { name: 'Publish', exact: true }).click();
    await page.getByText('Published version 2 to RELEASE').waitFor();
    assert.equal(await page.locator('.banner').count(), 0, 'no banner once published');
    assert.equal(asJson(await client.get(`http://${pylon.gateway}/hello`)).path, '/v2');

    // Roll back to version 1.
    await page.getByRole('button', { name: 'Roll RELEASE back to version 1', exact: true }).click();
    await page.getByText('RELEASE serves version 1 again').waitFor();
    assert.equal(asJson(await client.get(`http://${pylon.gateway}/hello`)).path, '/private');
    await shot(page, 'api-rolled-back');

    // The home page counts the API's traffic from Pylon's own metrics.
    await page.goto(`${pylon.admin}/console`);
    const row = page.locator('#traffic tbody tr', { hasText: 'hello' });
    await row.waitFor();
    assert.match(await row.textContent(), /tutorial/);
    const requests = Number(await row.locator('td').nth(3).textContent());
    assert.ok(requests >= 3, `the SDK's calls are counted: ${requests}`);
    assert.equal(await page.title(), 'Home · Pylon console', 'the traffic table stays out of the title');
    await shot(page, 'home');
    await page.goto(apiUrl);

    // Unpublish: the API is gone from RELEASE.
    await page.getByRole('button', { name: 'Unpublish from RELEASE', exact: true }).click();
    await page.getByText('Unpublished from RELEASE').waitFor();
    await assert.rejects(client.get(`http://${pylon.gateway}/hello`));
  } finally {
    await context.close();
    backend.close();
  }
});

test('upstreams: targets and Host on a form, every other field kept, the whole definition as JSON', async () => {
  const created = await rest(pylon, 'POST', '/v1/upstreams', {
    name: 'tls-vpc', targets: ['10.0.0.1:443'], tls: { server_name: 'api.internal' },
  });
  assert.equal(created.status, 201);
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, pylon);
  await page.goto(`${pylon.admin}/console/upstreams/${created.json.id}`);
  await page.getByLabel('Targets (one host:port a line)', { exact: true }).fill('10.0.0.1:443\n10.0.0.2:443');
  await page.getByLabel('Host header (empty: the target\'s address)', { exact: true }).fill('api.internal');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByText('Saved: the gateway uses it for the next request.').waitFor();
  let stored = (await rest(pylon, 'GET', `/v1/upstreams/${created.json.id}`)).json;
  assert.deepEqual(stored.targets, ['10.0.0.1:443', '10.0.0.2:443']);
  assert.equal(stored.host_header, 'api.internal');
  assert.deepEqual(stored.tls, { server_name: 'api.internal' }, 'the form kept what it does not show');

  // A target the API refuses: its message, next to the field.
  await page.getByLabel('Targets (one host:port a line)', { exact: true }).fill('no-port');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.locator('#targets-error').waitFor();
  assert.match(await page.locator('#targets-error').textContent(), /host:port/);

  // The JSON editor: every field, and a mistake shown next to it.
  await page.goto(`${pylon.admin}/console/upstreams/${created.json.id}`);
  const editor = page.getByLabel('Upstream definition', { exact: true });
  const doc = JSON.parse(await editor.inputValue());
  assert.deepEqual(doc.tls, { server_name: 'api.internal' });
  doc.tls.server_name = 'other.internal';
  await editor.fill(JSON.stringify(doc, null, 2));
  await page.getByRole('button', { name: 'Save JSON', exact: true }).click();
  await page.getByText('Saved: the gateway uses it for the next request.').waitFor();
  stored = (await rest(pylon, 'GET', `/v1/upstreams/${created.json.id}`)).json;
  assert.equal(stored.tls.server_name, 'other.internal');
  await page.getByLabel('Upstream definition', { exact: true }).fill('{"name": ');
  await page.getByRole('button', { name: 'Save JSON', exact: true }).click();
  await page.locator('#json-error').waitFor();
  await shot(page, 'upstream');
  await context.close();
});

/** A GET through the gateway, with the Host and headers a browser's fetch may not set. */
function gatewayGet(pylon, host, route, headers = {}) {
  const [hostname, port] = pylon.gateway.split(':');
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port, path: route, headers: { host, ...headers } }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('backend services: a definition per environment; a change or a delete that touches published APIs is confirmed first', async () => {
  const a = await startBackend('a');
  const b = await startBackend('b');
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    await signIn(page, pylon);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Backend services', exact: true }).click();
    await page.getByLabel('Name', { exact: true }).fill('orders-svc');
    await page.getByLabel('Type (fixed once created)', { exact: true }).selectOption('http');
    await page.getByRole('button', { name: 'Create backend service', exact: true }).click();
    await page.waitForURL(/\/console\/backends\/[0-9a-f]{16}$/);
    const backendId = page.url().split('/').pop();
    const editor = page.getByLabel('Definition in TEST (JSON; none yet)', { exact: true });
    await editor.fill(JSON.stringify({ type: 'http', url: a.url }));
    await page.getByRole('button', { name: 'Save definition', exact: true }).click();
    await page.getByText('Saved the TEST definition').waitFor();

    // An API on the service, published in TEST (through the REST API).
    const group = (await rest(pylon, 'POST', '/v1/groups', { name: 'bs' })).json;
    const api = (await rest(pylon, 'POST', `/v1/groups/${group.id}/apis`, {
      name: 'orders', auth: { type: 'none' }, request: { method: 'GET', path: '/orders' },
      backend: { service: { backend_id: backendId }, path: '/o' },
    })).json;
    assert.equal((await rest(pylon, 'POST', `/v1/groups/${group.id}/apis/${api.id}/publish`, { environment: 'TEST' })).status, 201);
    const host = `${group.id}.localhost`;
    const call = () => gatewayGet(pylon, host, '/orders', { 'x-ca-stage': 'TEST' });
    assert.equal(JSON.parse((await call()).text).name, 'a');

    // Changing TEST names the API first; confirmed, the next call goes to the new backend.
    await page.reload();
    await page.getByText('Published APIs using this definition: orders.').waitFor();
    await page.getByLabel('Definition in TEST (JSON)', { exact: true }).fill(JSON.stringify({ type: 'http', url: b.url }));
    await page.getByRole('button', { name: 'Save definition', exact: true }).click();
    await page.locator('#affected').waitFor();
    assert.equal(await page.locator('#affected').textContent(), 'orders');
    assert.equal(JSON.parse((await call()).text).name, 'a', 'nothing changed before the confirmation');
    await shot(page, 'backend-confirm');
    await page.getByRole('button', { name: 'Confirm the change', exact: true }).click();
    await page.getByText('Saved the TEST definition').waitFor();
    assert.equal(JSON.parse((await call()).text).name, 'b');

    // Deleting it names the API, then unpublishes it in TEST.
    await page.getByRole('button', { name: 'Delete the TEST definition', exact: true }).click();
    await page.locator('#affected').waitFor();
    await page.getByRole('button', { name: 'Delete and unpublish', exact: true }).click();
    await page.getByText('Deleted the TEST definition and unpublished orders').waitFor();
    const served = (await rest(pylon, 'GET', `/v1/groups/${group.id}/apis/${api.id}/deployments?environment=TEST`)).json;
    assert.ok(served.every((d) => !d.active), 'no longer published in TEST');
    assert.notEqual((await call()).status, 200);
    await shot(page, 'backend');
  } finally {
    await context.close();
    a.close();
    b.close();
  }
});

test('a group\'s stage variables, its APIs searched and paged, and an API\'s draft edited as JSON', async () => {
  const group = (await rest(pylon, 'POST', '/v1/groups', { name: 'many-apis' })).json;
  for (let i = 0; i < 55; i += 1) {
    const r = await rest(pylon, 'POST', `/v1/groups/${group.id}/apis`, {
      name: `api-${String(i).padStart(2, '0')}`, auth: { type: 'none' },
      request: { method: 'GET', path: `/a${i}` },
      backend: { service: { inline: { type: 'mock', body: `${i}` } }, path: '/' },
    });
    assert.equal(r.status, 201);
  }
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, pylon);
  await page.goto(`${pylon.admin}/console/groups/${group.id}`);
  assert.equal(await page.locator('#apis tbody tr').count(), 50);
  assert.match(await page.locator('#api-list .pages').textContent(), /55 APIs, page 1 of 2/);
  await page.getByLabel('Search APIs', { exact: true }).pressSequentially('api-5');
  await page.waitForFunction(() => document.querySelectorAll('#apis tbody tr').length === 5);

  // Stage variables: saved, then refused in the API's words.
  await page.getByLabel('TEST (name=value a line)', { exact: true }).fill('host=10.0.0.1:80\nver=v2');
  await page.getByRole('button', { name: 'Save the TEST stage variables', exact: true }).click();
  await page.waitForURL(/#variables-TEST$/);
  const vars = (await rest(pylon, 'GET', `/v1/groups/${group.id}/stage-variables/TEST`)).json;
  assert.deepEqual(vars.variables, { host: '10.0.0.1:80', ver: 'v2' });
  await page.getByLabel('PRE (name=value a line)', { exact: true }).fill('bad name=x');
  await page.getByRole('button', { name: 'Save the PRE stage variables', exact: true }).click();
  await page.locator('#domain-error').waitFor();

  // The draft's JSON editor: a field no form shows (a constant parameter) is kept.
  const apis = (await rest(pylon, 'GET', `/v1/groups/${group.id}/apis`)).json;
  const first = apis.find((a) => a.name === 'api-00');
  await page.goto(`${pylon.admin}/console/groups/${group.id}/apis/${first.id}`);
  const editor = page.getByLabel('API definition (JSON)', { exact: true });
  const doc = JSON.parse(await editor.inputValue());
  doc.constant_parameters = [{ name: 'X-Source', location: 'header', value: 'console' }];
  await editor.fill(JSON.stringify(doc, null, 2));
  await page.getByRole('button', { name: 'Save draft', exact: true }).click();
  await page.getByText('Saved the draft: publish it to serve it').waitFor();
  const saved = (await rest(pylon, 'GET', `/v1/groups/${group.id}/apis/${first.id}`)).json;
  assert.deepEqual(saved.constant_parameters.map((c) => c.value), ['console']);
  doc.request.path = 'no-slash';
  await page.getByLabel('API definition (JSON)', { exact: true }).fill(JSON.stringify(doc));
  await page.getByRole('button', { name: 'Save draft', exact: true }).click();
  await page.locator('#draft-error').waitFor();
  assert.match(await page.locator('#draft-error').textContent(), /request.path/);
  await context.close();
});

test('policies and functions are edited as JSON that round-trips, certificates on a form, environments added and deleted', async () => {
  const group = (await rest(pylon, 'POST', '/v1/groups', { name: 'guarded' })).json;
  const api = (await rest(pylon, 'POST', `/v1/groups/${group.id}/apis`, {
    name: 'guarded-api', auth: { type: 'none' }, request: { method: 'GET', path: '/g' },
    backend: { service: { inline: { type: 'mock', body: 'ok' } }, path: '/' },
  })).json;
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, pylon);

  // A policy: refused in the API's words next to the editor, then created, bound, edited.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Policies', exact: true }).click();
  const editor = page.getByLabel('Definition of the new policy (JSON, as the admin API takes it)', { exact: true });
  await editor.fill(JSON.stringify({ name: 'office', kind: 'teleport', config: {} }));
  await page.getByRole('button', { name: 'Create policy', exact: true }).click();
  await page.locator('#json-error').waitFor();
  assert.match(await page.locator('#json-error').textContent(), /kind/);
  assert.match(await editor.inputValue(), /teleport/, 'what was typed is kept');
  await editor.fill(JSON.stringify({ name: 'office', kind: 'ip-control', description: 'the office only', config: { action: 'allow', addresses: ['10.0.0.0/8'] } }));
  await page.getByRole('button', { name: 'Create policy', exact: true }).click();
  await page.getByText('Created', { exact: true }).waitFor();
  const policyUrl = page.url();
  await page.getByLabel('API', { exact: true }).selectOption({ label: 'guarded / guarded-api' });
  await page.getByLabel('Environment', { exact: true }).selectOption('TEST');
  await page.getByRole('button', { name: 'Bind', exact: true }).click();
  await page.getByText('Bound in TEST').waitFor();
  const policies = (await rest(pylon, 'GET', `/v1/apis/${api.id}/policies`)).json;
  assert.deepEqual(policies.map((p) => [p.policy_name, p.environment]), [['office', 'TEST']]);
  const definition = page.getByLabel('Definition of office (JSON)', { exact: true });
  const doc = JSON.parse(await definition.inputValue());
  assert.equal(doc.description, 'the office only', 'every field is in the editor');
  assert.equal(doc.id, undefined, 'but not what the server sets');
  doc.config.addresses.push('192.168.0.0/16');
  await definition.fill(JSON.stringify(doc, null, 2));
  await page.getByRole('button', { name: 'Save policy', exact: true }).click();
  await page.getByText('Saved: bound APIs use it from the next request').waitFor();
  const stored = (await rest(pylon, 'GET', '/v1/policies/office')).json;
  assert.deepEqual(stored.config.addresses, ['10.0.0.0/8', '192.168.0.0/16']);
  assert.equal(stored.description, 'the office only');
  await shot(page, 'policy');
  // Bound, it cannot go; unbound, it can.
  await page.getByText('Delete this policy', { exact: true }).click();
  await page.getByRole('button', { name: 'Delete policy office', exact: true }).click();
  assert.match(await page.getByRole('alert').textContent(), /bound/);
  await page.goto(policyUrl);
  await page.getByText('Unbind from guarded / guarded-api in TEST', { exact: true }).click();
  await page.getByRole('button', { name: 'Unbind from guarded / guarded-api in TEST now', exact: true }).click();
  await page.getByText('Unbound in TEST').waitFor();
  await page.getByText('Delete this policy', { exact: true }).click();
  await page.getByRole('button', { name: 'Delete policy office', exact: true }).click();
  await page.waitForURL(`${pylon.admin}/console/policies`);
  assert.equal((await rest(pylon, 'GET', '/v1/policies/office')).status, 404);

  // A certificate, uploaded on a form; the key never comes back.
  const [cert1, key1, cert2, key2] = ['CONSOLE_CERT_1', 'CONSOLE_KEY_1', 'CONSOLE_CERT_2', 'CONSOLE_KEY_2'].map((v) => {
    assert.ok(process.env[v], `${v} is set by tests/e2e/console.rs`);
    return process.env[v];
  });
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Certificates', exact: true }).click();
  await page.getByLabel('Name', { exact: true }).fill('shop-tls');
  await page.getByLabel('Certificate chain (PEM, the server\'s certificate first)', { exact: true }).fill(cert1);
  await page.getByLabel('Private key (PEM; sealed, never shown again)', { exact: true }).fill(key2);
  await page.getByRole('button', { name: 'Upload certificate', exact: true }).click();
  await page.locator('#certificate-error').waitFor();
  assert.match(await page.locator('#certificate-error').textContent(), /key/i, 'a key that is not the chain\'s is refused');
  assert.ok(!(await page.content()).includes(key2.split('\n')[1]), 'the key is not sent back');
  await page.getByLabel(/^Private key/).fill(key1);
  await page.getByRole('button', { name: 'Upload certificate', exact: true }).click();
  await page.getByText('Uploaded: served to new handshakes at once').waitFor();
  assert.match(await page.locator('dl.facts').textContent(), /shop\.console\.test/);
  await page.getByLabel('Certificate chain (PEM, the server\'s certificate first)', { exact: true }).fill(cert2);
  await page.getByLabel(/^Private key/).fill(key2);
  await page.getByRole('button', { name: 'Replace certificate', exact: true }).click();
  await page.getByText('Replaced: new handshakes get the new chain').waitFor();
  assert.match(await page.locator('dl.facts').textContent(), /www\.console\.test/);
  assert.ok(!(await page.content()).includes(key2.split('\n')[1]), 'no private key on the page');
  await shot(page, 'certificate');
  await page.getByText('Delete this certificate', { exact: true }).click();
  await page.getByRole('button', { name: 'Delete certificate shop-tls', exact: true }).click();
  await page.waitForURL(`${pylon.admin}/console/certificates`);
  assert.deepEqual((await rest(pylon, 'GET', '/v1/certificates')).json, []);

  // Functions: refused while hosting is off, with the API's reason.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Functions', exact: true }).click();
  await page.getByRole('button', { name: 'Create function', exact: true }).click();
  await page.locator('#json-error').waitFor();
  assert.match(await page.locator('#json-error').textContent(), /allow-hosted-functions/);

  // Environments: added, refused while published, deleted.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Environments', exact: true }).click();
  await page.getByLabel('Name', { exact: true }).fill('bad name');
  await page.getByRole('button', { name: 'Add environment', exact: true }).click();
  await page.locator('#env-error').waitFor();
  await page.getByLabel('Name', { exact: true }).fill('staging');
  await page.getByRole('button', { name: 'Add environment', exact: true }).click();
  await page.getByText('Created STAGING').waitFor();
  assert.equal((await rest(pylon, 'POST', `/v1/groups/${group.id}/apis/${api.id}/publish`, { environment: 'STAGING' })).status, 201);
  await page.reload();
  assert.match(await page.locator('#environments tr', { hasText: 'STAGING' }).textContent(), /1/);
  await shot(page, 'environments');
  await page.getByText('Delete STAGING', { exact: true }).click();
  await page.getByRole('button', { name: 'Delete environment STAGING', exact: true }).click();
  assert.match(await page.getByRole('alert').textContent(), /still serves API\(s\) `guarded-api`/);
  assert.equal((await rest(pylon, 'POST', `/v1/groups/${group.id}/apis/${api.id}/unpublish`, { environment: 'STAGING' })).status, 204);
  await page.goto(`${pylon.admin}/console/environments`);
  await page.getByText('Delete STAGING', { exact: true }).click();
  await page.getByRole('button', { name: 'Delete environment STAGING', exact: true }).click();
  await page.waitForURL(`${pylon.admin}/console/environments`);
  assert.ok(!(await rest(pylon, 'GET', '/v1/environments')).json.some((e) => e.name === 'STAGING'));
  await context.close();
});

test('hosted functions: created with a secret that is never shown, edited as JSON with the secret kept', async () => {
  const hosting = await startPylon(['--allow-hosted-functions']);
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    await signIn(page, hosting);
    await page.goto(`${hosting.admin}/console/functions`);
    const created = {
      name: 'greeter', command: ['python3', '-m', 'awslambdaric'], handler: 'app.handler',
      environment: { GREETING: 'hello' }, timeout_ms: 3000,
    };
    await page.getByLabel('Definition of the new function (JSON, as the admin API takes it)', { exact: true }).fill(JSON.stringify(created));
    await page.getByLabel('Secrets (NAME=value a line; sealed, never shown again)', { exact: true }).fill('API_TOKEN=s3cr3t-value');
    await page.getByRole('button', { name: 'Create function', exact: true }).click();
    await page.getByText('Created', { exact: true }).waitFor();
    assert.equal(await page.locator('#secret-names').textContent(), 'API_TOKEN');
    assert.ok(!(await page.content()).includes('s3cr3t-value'), 'the secret value is never on a page');
    const definition = page.getByLabel('Definition of greeter (JSON)', { exact: true });
    const doc = JSON.parse(await definition.inputValue());
    assert.equal(doc.secrets, undefined, 'secret names are not part of what is sent back');
    doc.timeout_ms = 5000;
    await definition.fill(JSON.stringify(doc, null, 2));
    await page.getByRole('button', { name: 'Save function', exact: true }).click();
    await page.getByText('Saved: its workers restart with it').waitFor();
    const stored = (await rest(hosting, 'GET', '/v1/functions/greeter')).json;
    assert.equal(stored.timeout_ms, 5000);
    assert.deepEqual(stored.secrets, ['API_TOKEN'], 'the sealed secret is kept');
    assert.deepEqual(stored.environment, { GREETING: 'hello' });
    await shot(page, 'function');
  } finally {
    await context.close();
    await hosting.stop();
  }
});

test('the wizard maps parameters, sends constant and system parameters and documents error codes; a draft edited in steps keeps what the form lacks', async () => {
  const backend = await startBackend('mapped');
  const group = (await rest(pylon, 'POST', '/v1/groups', { name: 'wizardry' })).json;
  const bound = await rest(pylon, 'POST', `/v1/groups/${group.id}/domains`, { name: 'wizardry.example', environment: 'RELEASE' });
  assert.equal(bound.status, 201);
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    await signIn(page, pylon);
    await page.goto(`${pylon.admin}/console/groups/${group.id}/apis/new`);
    await page.getByLabel('API name', { exact: true }).fill('item');
    await page.getByLabel('Authentication', { exact: true }).selectOption('none');
    await page.getByRole('button', { name: 'Next', exact: true }).click();
    await page.getByLabel('Path', { exact: true }).fill('/items/{id}');
    await page.getByLabel('Request mode', { exact: true }).selectOption('mapping');
    await page.getByLabel('Parameter 1 name', { exact: true }).fill('id');
    await page.getByLabel('Parameter 1 location', { exact: true }).selectOption('path');
    await page.getByLabel('Parameter 1 required', { exact: true }).selectOption('yes');
    await page.getByRole('button', { name: 'Another row', exact: true }).click();
    await page.getByLabel('Parameter 2 name', { exact: true }).fill('q');
    await page.getByRole('button', { name: 'Next', exact: true }).click();

    await page.getByLabel('URL (HTTP type)', { exact: true }).fill(backend.url);
    await page.getByLabel('Backend path', { exact: true }).fill('/stock/{id}');
    await page.getByLabel('Backend name of q', { exact: true }).fill('X-Query');
    await page.getByLabel('Backend location of q', { exact: true }).selectOption('header');
    await page.getByLabel('Constant 1 name', { exact: true }).fill('X-Source');
    await page.getByLabel('Constant 1 value', { exact: true }).fill('console');
    await page.getByLabel('System parameter 1 value', { exact: true }).selectOption('client_ip');
    await page.getByLabel('System parameter 1 backend name', { exact: true }).fill('X-Client-Ip');
    await shot(page, 'api-wizard-3-mapping');
    await page.getByRole('button', { name: 'Next', exact: true }).click();
    await page.getByLabel('Error code 1', { exact: true }).fill('404');
    await page.getByLabel('Error code 1 message', { exact: true }).fill('no such item');
    await shot(page, 'api-wizard-4-error-codes');
    await page.getByRole('button', { name: 'Create API', exact: true }).click();
    await page.waitForURL(/\/apis\/[0-9a-f]{16}$/);
    const apiId = new URL(page.url()).pathname.split('/').pop();
    const apiPath = `/v1/groups/${group.id}/apis/${apiId}`;
    const created = (await rest(pylon, 'GET', apiPath)).json;
    assert.equal(created.request.mode, 'mapping');
    assert.deepEqual(created.parameters.map((p) => [p.name, p.location, p.required, p.backend_name, p.backend_location]),
      [['id', 'path', true, null, null], ['q', 'query', false, 'X-Query', 'header']]);
    assert.deepEqual(created.response.error_codes, [{ code: '404', message: 'no such item', description: '' }]);

    // Through the gateway: the mapping, the constant and the system parameter reach the backend.
    assert.equal((await rest(pylon, 'POST', `${apiPath}/publish`, { environment: 'RELEASE' })).status, 201);
    const call = await gatewayGet(pylon, 'wizardry.example', '/items/7?q=shoes');
    assert.equal(call.status, 200, call.text);
    const seen = JSON.parse(call.text);
    assert.equal(seen.path, '/stock/7');
    assert.equal(seen.headers['x-query'], 'shoes');
    assert.equal(seen.headers['x-source'], 'console');
    assert.equal(seen.headers['x-client-ip'], '127.0.0.1');

    // Fields no step shows, set through the REST API, survive an edit in steps.
    const { id: _i, group_id: _g, created_at: _c, updated_at: _u, ...spec } = created;
    spec.parameters[0].constraints = { pattern: '[0-9]+' };
    spec.parameters[1].description = 'what to look for';
    spec.cors = { allow_origins: ['https://shop.example'] };
    assert.equal((await rest(pylon, 'PUT', apiPath, spec)).status, 200);
    await page.reload();
    await page.getByRole('link', { name: 'Edit the draft in steps', exact: true }).click();
    assert.equal(await page.getByLabel('API name', { exact: true }).inputValue(), 'item');
    await page.getByRole('button', { name: 'Next', exact: true }).click();
    assert.equal(await page.getByLabel('Parameter 2 name', { exact: true }).inputValue(), 'q');
    await page.getByLabel('Path', { exact: true }).fill('items/{id}');
    await page.getByRole('button', { name: 'Save the draft', exact: true }).click();
    await page.locator('#path-error').waitFor();
    assert.match(await page.locator('#path-error').textContent(), /\//, 'the API\'s own message, next to the path');
    await page.getByLabel('Path', { exact: true }).fill('/items/{id}');
    await page.getByLabel('Parameter 2 name', { exact: true }).fill('query');
    await page.getByRole('button', { name: 'Next', exact: true }).click();
    assert.equal(await page.getByLabel('Backend name of query', { exact: true }).inputValue(), 'X-Query');
    await page.getByLabel('Constant 1 value', { exact: true }).fill('wizard');
    await page.getByRole('button', { name: 'Save the draft', exact: true }).click();
    await page.getByText('Saved the draft: publish it to serve it').waitFor();
    await page.getByText('The draft has changes not published in RELEASE').waitFor();
    const edited = (await rest(pylon, 'GET', apiPath)).json;
    assert.equal(edited.parameters[0].constraints.pattern, '[0-9]+');
    assert.deepEqual([edited.parameters[1].name, edited.parameters[1].description, edited.parameters[1].backend_name],
      ['query', 'what to look for', 'X-Query']);
    assert.deepEqual(edited.cors.allow_origins, ['https://shop.example']);
    assert.equal(edited.constant_parameters[0].value, 'wizard');
    assert.deepEqual(edited.response.error_codes.map((e) => e.code), ['404']);
  } finally {
    await context.close();
    backend.close();
  }
});

test('deletes ask first, are refused in the API\'s words while in use, and then go through', async () => {
  const group = (await rest(pylon, 'POST', '/v1/groups', { name: 'doomed' })).json;
  await rest(pylon, 'POST', `/v1/groups/${group.id}/domains`, { name: 'doomed.example', environment: 'TEST' });
  const upstream = (await rest(pylon, 'POST', '/v1/upstreams', { name: 'doomed-vpc', targets: ['127.0.0.1:9'] })).json;
  const api = (await rest(pylon, 'POST', `/v1/groups/${group.id}/apis`, {
    name: 'doomed-api', auth: { type: 'app' }, request: { method: 'GET', path: '/d' },
    backend: { service: { inline: { type: 'upstream', upstream: 'doomed-vpc' } }, path: '/' },
  })).json;
  const apiPath = `/v1/groups/${group.id}/apis/${api.id}`;
  assert.equal((await rest(pylon, 'POST', `${apiPath}/publish`, { environment: 'TEST' })).status, 201);
  const app = (await rest(pylon, 'POST', '/v1/apps', { name: 'doomed-app' })).json;
  const grant = await rest(pylon, 'POST', '/v1/authorizations', { app_id: app.id, api_id: api.id, environment: 'TEST' });
  assert.equal(grant.status, 201);
  const service = (await rest(pylon, 'POST', '/v1/backends', { name: 'doomed-service', type: 'http' })).json;
  assert.ok(upstream.id && api.id && app.id && service.id, 'everything to delete was created');

  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    await signIn(page, pylon);
    // The group still holds an API: refused with the API's reason, and a way back.
    await page.goto(`${pylon.admin}/console/groups/${group.id}`);
    await page.getByText('Delete this group', { exact: true }).click();
    await shot(page, 'group-delete-confirm');
    await page.getByRole('button', { name: 'Delete group doomed', exact: true }).click();
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Not deleted');
    assert.match(await page.getByRole('alert').textContent(), /API/);
    await page.getByRole('link', { name: 'Back', exact: true }).click();
    assert.equal(new URL(page.url()).pathname, `/console/groups/${group.id}`);

    // Unbind the domain.
    await page.getByText('Unbind doomed.example', { exact: true }).click();
    await page.getByRole('button', { name: 'Unbind doomed.example now', exact: true }).click();
    await page.waitForURL(`${pylon.admin}/console/groups/${group.id}`);
    assert.deepEqual((await rest(pylon, 'GET', `/v1/groups/${group.id}/domains`)).json, []);

    // The upstream is in use.
    await page.goto(`${pylon.admin}/console/upstreams/${upstream.id}`);
    await page.getByText('Delete this upstream', { exact: true }).click();
    await page.getByRole('button', { name: 'Delete upstream doomed-vpc', exact: true }).click();
    assert.match(await page.getByRole('alert').textContent(), /still used/);

    // Revoke the app's authorization, on the app's page (names, not ids).
    await page.goto(`${pylon.admin}/console/apps/${app.id}`);
    assert.match(await page.locator('#grants').textContent(), /doomed-api/);
    await page.getByText('Revoke doomed-api in TEST', { exact: true }).click();
    await page.getByRole('button', { name: 'Revoke doomed-api in TEST now', exact: true }).click();
    await page.getByText('Not authorized for any API yet.').waitFor();
    assert.deepEqual((await rest(pylon, 'GET', `/v1/authorizations?app_id=${app.id}`)).json, []);

    // A published API is refused; unpublished, it goes.
    await page.goto(`${pylon.admin}/console/groups/${group.id}/apis/${api.id}`);
    await page.getByText('Delete this API', { exact: true }).click();
    await page.getByRole('button', { name: 'Delete API doomed-api', exact: true }).click();
    assert.match(await page.getByRole('alert').textContent(), /TEST/);
    await page.getByRole('link', { name: 'Back', exact: true }).click();
    await page.getByRole('button', { name: 'Unpublish from TEST', exact: true }).click();
    await page.getByText('Unpublished from TEST').waitFor();
    await page.getByText('Delete this API', { exact: true }).click();
    await page.getByRole('button', { name: 'Delete API doomed-api', exact: true }).click();
    await page.waitForURL(`${pylon.admin}/console/groups/${group.id}`);
    assert.equal((await rest(pylon, 'GET', apiPath)).status, 404);

    // Now the group, the upstream, the app and the backend service go.
    for (const [url, summary, button, rest_path] of [
      [`/console/groups/${group.id}`, 'Delete this group', 'Delete group doomed', `/v1/groups/${group.id}`],
      [`/console/upstreams/${upstream.id}`, 'Delete this upstream', 'Delete upstream doomed-vpc', `/v1/upstreams/${upstream.id}`],
      [`/console/apps/${app.id}`, 'Delete this app', 'Delete app doomed-app', `/v1/apps/${app.id}`],
      [`/console/backends/${service.id}`, 'Delete this backend service', 'Delete backend service doomed-service', `/v1/backends/${service.id}`],
    ]) {
      await page.goto(`${pylon.admin}${url}`);
      await page.getByText(summary, { exact: true }).click();
      await page.getByRole('button', { name: button, exact: true }).click();
      await page.waitForURL((u) => u.pathname === url.split('/').slice(0, 3).join('/'));
      assert.equal((await rest(pylon, 'GET', rest_path)).status, 404, `${rest_path} is gone`);
    }
  } finally {
    await context.close();
  }
});

/** Presses Tab until the focused control is named `name`; it must show where focus is. */
async function tabTo(page, name, max = 80) {
  for (let i = 0; i < max; i += 1) {
    await page.keyboard.press('Tab');
    const outline = await page.evaluate((wanted) => {
      const el = document.activeElement;
      const label = el.getAttribute('aria-label') || el.labels?.[0]?.textContent.trim() || el.textContent.trim();
      return label === wanted ? getComputedStyle(el).outlineStyle : null;
    }, name);
    if (outline !== null) {
      assert.notEqual(outline, 'none', `${name} shows that it has focus`);
      return;
    }
  }
  assert.fail(`${name} cannot be reached with Tab`);
}

test('keyboard only: sign in, create a group, define an API in four steps and publish it', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${pylon.admin}/console/login`);
  await page.keyboard.type(pylon.token);
  await page.keyboard.press('Enter');
  await page.waitForURL(`${pylon.admin}/console`);

  await tabTo(page, 'Skip to the content');
  await tabTo(page, 'Groups');
  await page.keyboard.press('Enter');
  await page.waitForURL(`${pylon.admin}/console/groups`);
  await tabTo(page, 'Name');
  await page.keyboard.type('keyboard');
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/console\/groups\/[0-9a-f]{16}$/);

  await tabTo(page, 'Create an API');
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/apis\/new$/);
  await tabTo(page, 'API name');
  await page.keyboard.type('typed');
  await tabTo(page, 'Authentication');
  await page.keyboard.press('End'); // the last choice: None
  // Enter in a field moves to the next step, never back.
  await tabTo(page, 'Description');
  await page.keyboard.press('Enter');
  await page.locator('li[aria-current="step"]', { hasText: 'Request' }).waitFor();
  await tabTo(page, 'Path');
  await page.keyboard.type('/typed');
  await page.keyboard.press('Enter');
  await page.locator('li[aria-current="step"]', { hasText: 'Backend' }).waitFor();
  await tabTo(page, 'Backend type');
  await page.keyboard.press('End'); // the last choice: Mock
  await tabTo(page, 'Mock body (mock type)');
  await page.keyboard.type('typed by keyboard');
  await page.keyboard.press('Enter');
  await page.locator('li[aria-current="step"]', { hasText: 'Response' }).waitFor();
  await tabTo(page, 'Content type');
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/apis\/[0-9a-f]{16}$/);

  await tabTo(page, 'Note');
  await page.keyboard.type('from the keyboard');
  await page.keyboard.press('Enter');
  await page.getByText('Published version 1 to RELEASE').waitFor();
  const [groupId, , apiId] = new URL(page.url()).pathname.split('/').slice(3);
  const api = (await rest(pylon, 'GET', `/v1/groups/${groupId}/apis/${apiId}`)).json;
  assert.deepEqual([api.name, api.auth.type, api.request.path, api.backend.service.inline.body],
    ['typed', 'none', '/typed', 'typed by keyboard']);
  await context.close();
});

test('a group of 1,000 APIs: the first page renders 50 and a search finds one', async (t) => {
  const group = (await rest(pylon, 'POST', '/v1/groups', { name: 'thousand' })).json;
  for (let i = 0; i < 1000; i += 1) {
    const r = await rest(pylon, 'POST', `/v1/groups/${group.id}/apis`, {
      name: `bulk-${String(i).padStart(4, '0')}`, auth: { type: 'none' },
      request: { method: 'GET', path: `/bulk/${i}` },
      backend: { service: { inline: { type: 'mock' } }, path: '/' },
    });
    assert.equal(r.status, 201);
  }
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, pylon);
  const url = `${pylon.admin}/console/groups/${group.id}`;
  await page.goto(url); // warm
  const started = performance.now();
  await page.goto(url);
  const loaded = performance.now() - started;
  assert.equal(await page.locator('#apis tbody tr').count(), 50);
  assert.match(await page.locator('#api-list .pages').textContent(), /1000 APIs, page 1 of 20/);
  const searched = performance.now();
  await page.getByLabel('Search APIs', { exact: true }).pressSequentially('bulk-0777');
  await page.waitForFunction(() => document.querySelectorAll('#apis tbody tr').length === 1);
  const found = performance.now() - searched;
  // Measured, not asserted: the note and docs/console.md report it.
  t.diagnostic(`1000 APIs: group page loaded in ${loaded.toFixed(0)} ms; search-as-you-type answered in ${found.toFixed(0)} ms (250 ms of it the typing delay)`);
  await context.close();
});
