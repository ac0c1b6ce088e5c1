// VM list benchmark (not a timed test, prints numbers): the simulator at 50 nodes × 10,000 VMs
// behind the Cecyber server; SSR of `/`, then in headless Chromium the time to rows shown,
// hydrated, filter and sort, the tab's memory, and the upstream PVE calls per minute with 1, 10
// and 50 VM-list tabs open. Every figure has a baseline from the same run: the same server
// binary against a second, small simulator (3 nodes × 100 VMs), same page, same 50 rows, so the
// ratio is what the cluster's size costs; the tab phases are compared with the 1-tab phase.
//
// Run after `.ci/build --release` and `cargo build --release -p pve --features sim --bin pve-sim`
// (paths are relative to the repository root, wherever it is started from):
//   node end2end/bench/vm_list.mjs          (about 8 minutes on 2 cores with the defaults)
// Settings, from the environment (VM_LIST_BENCH_…): NODES (50), VMS (10000), BASE_NODES (3),
// BASE_VMS (100), TABS (tab counts, "1,10,50"), PHASE_SECS (measured seconds per tab count, 60;
// rounded to whole 10 s ticks: a phase runs from one poll to another), REPEATS (repetitions of
// SSR and of the browser figures, 7), FILTER (text typed, "web"), SERVER
// (target/release/cecyber), SITE (target/release/site; target/site for a debug SERVER), SIM
// (target/release/pve-sim), PORT (first of four ports, 3700). A quick run (about 80 s):
//   VM_LIST_BENCH_SERVER=target/debug/cecyber VM_LIST_BENCH_NODES=5 VM_LIST_BENCH_VMS=500 \
//   VM_LIST_BENCH_TABS=1,3 VM_LIST_BENCH_PHASE_SECS=20 VM_LIST_BENCH_REPEATS=3 node end2end/bench/vm_list.mjs
//
// The simulators refuse /cluster/metrics/export, as in server/benches/live_sse.rs (the history
// of 10,000 VMs does not fit in memory; the server skips it at that size anyway), so that both
// servers' sparklines start alike from the first poll.
// Each tab has its own browser context: Chromium opens at most 6 HTTP/1.1 connections per host
// and profile, and every list tab keeps one for its live stream, so a 7th tab of one profile
// never loads over plain HTTP (a run with TABS above 6 checks it; HTTP/2 behind a proxy has no
// such limit).
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream, existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright';

process.chdir(new URL('../..', import.meta.url).pathname);
const env = (name, value) => process.env[`VM_LIST_BENCH_${name}`] ?? value;
const S = {
  nodes: +env('NODES', 50), vms: +env('VMS', 10000),
  baseNodes: +env('BASE_NODES', 3), baseVms: +env('BASE_VMS', 100),
  tabs: env('TABS', '1,10,50').split(',').map(Number).filter((n) => n > 0),
  phaseSecs: +env('PHASE_SECS', 60), repeats: Math.max(1, +env('REPEATS', 7)),
  filter: env('FILTER', 'web'), server: env('SERVER', 'target/release/cecyber'),
  sim: env('SIM', 'target/release/pve-sim'), port: +env('PORT', 3700),
};
S.site = env('SITE', S.server.includes('/debug/') ? 'target/site' : 'target/release/site');
const PASSWORD = 'vm-list-bench-admin';
const NO_MATCH = 'zz-no-such-vm-zz';
const SETTLE_MS = 2000; // after interactive, before memory: late answers, first live event
const dir = mkdtempSync(path.join(os.tmpdir(), 'cecyber-vm-list-bench-'));
const children = [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- processes --------------------------------------------------------------------------

/** Starts `cmd`, logging to `dir/name.log`; killed when this script exits, however it ends. */
function start(name, cmd, args, extraEnv) {
  const childEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CECYBER_')));
  const child = spawn(cmd, args, { env: { ...childEnv, RUST_LOG: 'warn', ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(path.join(dir, `${name}.log`));
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  child.logPath = path.join(dir, `${name}.log`);
  children.push(child);
  return child;
}
process.on('exit', () => children.forEach((c) => c.exitCode === null && c.kill('SIGKILL')));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));

/** A simulator of `nodes` × `vms`; resolves with its port, token secret and fingerprint. */
function startSim(name, port, nodes, vms) {
  const secret = randomUUID();
  const child = start(name, S.sim, ['--bind', `127.0.0.1:${port}`, '--nodes', `${nodes}`, '--vms', `${vms}`,
    '--token-secret', secret, '--error-rates', '/cluster/metrics/export=1']);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const fingerprint = out.match(/TLS fingerprint:\s+([0-9A-F:]+)/)?.[1];
      if (fingerprint) resolve({ name, port, secret, fingerprint, child, nodes, vms });
    });
    child.on('exit', (code) => reject(new Error(`${S.sim} exited (${code}); see ${child.logPath}`)));
  });
}

/** A Cecyber server with `sim` as its only cluster, fresh database, logged in as admin. */
async function startServer(name, port, sim) {
  const base = `http://127.0.0.1:${port}`;
  const child = start(name, S.server, [], {
    CECYBER_LISTEN: `127.0.0.1:${port}`, CECYBER_DATABASE_URL: `sqlite://${dir}/${name}.db`,
    CECYBER_SITE_ROOT: S.site, CECYBER_ADMIN_PASSWORD: PASSWORD,
    CECYBER_CLUSTERS__0__NAME: 'bench', CECYBER_CLUSTERS__0__URLS: `https://127.0.0.1:${sim.port}`,
    CECYBER_CLUSTERS__0__TOKEN_ID: 'root@pam!cecyber', CECYBER_CLUSTERS__0__TOKEN_SECRET: sim.secret,
    CECYBER_CLUSTERS__0__FINGERPRINT: sim.fingerprint,
  });
  for (let tries = 0; ; tries++) {
    if (child.exitCode !== null) throw new Error(`${S.server} exited (${child.exitCode}); see ${child.logPath}`);
    if ((await get(`${base}/healthz`).catch(() => ({}))).status === 200) break;
    if (tries > 1200) throw new Error(`${S.server} did not start; see ${child.logPath}`);
    await sleep(100);
  }
  const login = await get(`${base}/api/login`, { method: 'POST', body: `username=admin&password=${PASSWORD}`,
    headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  const cookie = String(login.headers['set-cookie'] ?? '').split(';')[0];
  if (!cookie.includes('=')) throw new Error(`login failed (${login.status}); see ${child.logPath}`);
  return { name, base, cookie, child, sim };
}

/** One HTTP(S) request read to its end, the body as sent (not decompressed), timed. */
function get(url, { method = 'GET', headers = {}, body } = {}) {
  const lib = url.startsWith('https') ? https : http;
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = lib.request(url, { method, headers, rejectUnauthorized: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers,
        body: Buffer.concat(chunks), ms: performance.now() - t0 }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const simStats = async (sim) => JSON.parse((await get(`https://127.0.0.1:${sim.port}/_sim/stats`)).body);
/** Returns just after the server's next poll of the simulator: a phase from one poll to another
 * is whole ticks (the server polls once per 10 s tick). */
async function afterPoll(sim) {
  const polls = async () => (await simStats(sim)).requests['GET /cluster/resources'] ?? 0;
  const before = await polls();
  for (let i = 0; i < 600 && (await polls()) === before; i++) await sleep(100);
}

/** CPU seconds (user + system) and RSS in bytes of a process, from /proc. */
function proc(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const rss = +readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1] * 1024;
  return { cpu: (+stat[11] + +stat[12]) / 100, rss };
}

/** Proportional set size of Chromium's renderer processes (the tabs): summed and the largest;
 * Playwright runs Chromium as a child of this process. */
function renderers(root = process.pid) {
  const parent = new Map();
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try { parent.set(pid, readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1]); } catch {}
  }
  const descends = (pid) => { for (let p = pid; p && p !== '1'; p = parent.get(p)) if (p === `${root}`) return true; return false; };
  let pss = 0, max = 0;
  for (const pid of parent.keys()) {
    try {
      if (!descends(pid) || !readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--type=renderer')) continue;
      const one = +readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').match(/Pss:\s+(\d+)/)[1] * 1024;
      [pss, max] = [pss + one, Math.max(max, one)];
    } catch {}
  }
  return { pss, max };
}

// ---- figures ----------------------------------------------------------------------------

const median = (xs) => { const s = [...xs].sort((a, b) => a - b), m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const num = (x, digits = 0) => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
/** Per unit: the figure's number and its suffix. */
const UNITS = {
  ms: [(x) => num(x, x < 10 ? 1 : 0), ' ms'], B: [(x) => num(x / 1000, 1), ' kB'],
  MB: [(x) => num(x / 1e6, 1), ' MB'], n: [(x) => num(x), ''],
};
const fmt = (x, unit) => UNITS[unit][0](x) + UNITS[unit][1];
/** "median (min–max) unit" of `xs`. */
const spread = (xs, unit) => {
  const [f, suffix] = UNITS[unit];
  const [lo, hi] = [Math.min(...xs), Math.max(...xs)];
  return lo !== hi ? `${f(median(xs))} (${f(lo)}–${f(hi)})${suffix}` : f(lo) + suffix;
};
const ratio = (a, b) => (b > 0 ? `${num(a / b, 2)}×` : '-');
/** One table row: label, measured figures, baseline figures, ratio of the medians. */
function row(label, big, base, unit, note = '') {
  console.log(`  ${label.padEnd(38)} ${spread(big, unit).padEnd(28)} ${spread(base, unit).padEnd(28)} ${ratio(median(big), median(base)).padEnd(7)} ${note}`);
}

async function measureSsr(big, base) {
  const cases = [['/ plain', '/', 'identity'], ['/ as Chromium asks (br)', '/', 'gzip, deflate, br, zstd'],
    ['/?q=<no match> plain', `/?q=${NO_MATCH}`, 'identity']];
  const got = cases.map(() => ({ big: [], base: [] }));
  const ssr = async (server, url, encoding) => { // to the complete body, its size on the wire
    const r = await get(server.base + url, { headers: { cookie: server.cookie, 'accept-encoding': encoding } });
    return r.status === 200 ? r : Promise.reject(new Error(`GET ${url}: ${r.status}`));
  };
  for (const server of [big, base]) for (let i = 0; i < 2; i++) await ssr(server, '/', 'identity'); // warm up
  for (let i = 0; i < S.repeats; i++) {
    for (const [c, [, url, enc]] of cases.entries()) {
      got[c].big.push(await ssr(big, url, enc));
      got[c].base.push(await ssr(base, url, enc));
    }
  }
  table(`SSR, GET with the session cookie to the complete body (median (min–max) of ${S.repeats})`);
  for (const [c, g] of got.entries()) {
    row(`${cases[c][0]}: time`, g.big.map((r) => r.ms), g.base.map((r) => r.ms), 'ms');
    row(`${cases[c][0]}: bytes`, g.big.map((r) => r.body.length), g.base.map((r) => r.body.length), 'B',
      g.big[0].headers['content-encoding'] ?? '');
  }
  console.log('  (no match: the same scan of every VM without rows; / minus it is what the 50 rows cost)');
}

function table(title) {
  console.log(`\n${title}\n  ${''.padEnd(38)} ${`${num(S.vms)} VMs`.padEnd(28)} ${`${num(S.baseVms)} VMs (baseline)`.padEnd(28)} ratio`);
}

/** Runs in every page before its own scripts: marks rows shown and hydration, and helpers. */
function probe() {
  const marks = (window.__bench = {});
  const afterPaint = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  let hydrated;
  Object.defineProperty(window, '__cecyber_hydrated', {
    configurable: true, get: () => hydrated,
    set(v) { hydrated = v; if (v === true) marks.hydrated ??= performance.now(); },
  });
  new MutationObserver((_, observer) => {
    if (!document.querySelector('[data-testid="vm-table"] tbody tr')) return;
    observer.disconnect();
    afterPaint().then(() => (marks.rows = performance.now()));
  }).observe(document, { childList: true, subtree: true });
  /** Does `act` and resolves with ms to the DOM change `done` waits for and to the next frame. */
  window.__benchTime = (act, done) => new Promise((resolve, reject) => {
    const t0 = performance.now();
    const finish = () => {
      const dom = performance.now() - t0;
      afterPaint().then(() => resolve({ dom, painted: performance.now() - t0 }));
    };
    const observer = new MutationObserver(() => done() && (observer.disconnect(), finish()));
    observer.observe(document.body, { childList: true, subtree: true, characterData: true });
    setTimeout(() => (observer.disconnect(), reject(new Error('no change within 30 s'))), 30000);
    act();
  });
}

const consoleErrors = [];
/** A browser context of its own (own connections) logged in to `server`. */
async function newContext(browser, server) {
  const context = await browser.newContext();
  const [name, value] = [server.cookie.slice(0, server.cookie.indexOf('=')), server.cookie.slice(server.cookie.indexOf('=') + 1)];
  await context.addCookies([{ name, value, url: server.base }]);
  await context.addInitScript(probe);
  context.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  context.on('weberror', (e) => consoleErrors.push(String(e.error())));
  return context;
}

/** Waits until the rows are painted and the page hydrated; on a timeout, says what it saw. */
const interactive = (page, timeout = 60000) => page
  .waitForFunction(() => window.__bench.hydrated && window.__bench.rows, null, { timeout })
  .catch(async (e) => {
    const seen = await page.evaluate(() => ({ ...window.__bench, readyState: document.readyState,
      count: document.querySelector('[data-testid="vm-count"]')?.textContent })).catch(() => ({}));
    throw new Error(`${page.url()} not interactive within ${timeout / 1000} s: ${JSON.stringify(seen)} (${e.message.split('\n')[0]})`);
  });

/** Bytes of the app's WASM memory: the page's own module instance, whose init returns its exports. */
const wasmMemory = (page) => page.evaluate(async () => {
  const module = await import(document.querySelector('link[rel=modulepreload]').href);
  return (await module.default()).memory.buffer.byteLength;
});

/** One fresh tab on `/`: load marks, memory when settled, then a filter and a sort. */
async function measureTab(browser, server) {
  const context = await newContext(browser, server);
  const page = await context.newPage();
  await page.goto(`${server.base}/`);
  await interactive(page);
  const load = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const { rows, hydrated } = window.__bench;
    return { html: nav.responseEnd, rows, hydrated, interactive: Math.max(rows, hydrated), wire: nav.encodedBodySize };
  });
  await page.waitForTimeout(SETTLE_MS);
  const cdp = await context.newCDPSession(page);
  await cdp.send('HeapProfiler.collectGarbage');
  await cdp.send('Performance.enable');
  const metrics = Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
  const memory = { heap: metrics.JSHeapUsedSize, heapTotal: metrics.JSHeapTotalSize, wasm: await wasmMemory(page),
    elements: await page.evaluate(() => document.getElementsByTagName('*').length),
    renderer: renderers() };
  const filter = await page.evaluate((text) => {
    const input = document.querySelector('[data-testid="vm-filter"]');
    const count = () => document.querySelector('[data-testid="vm-count"]')?.textContent ?? '';
    return window.__benchTime(() => { input.value = text; input.dispatchEvent(new Event('input', { bubbles: true })); },
      () => /matching|Nothing matches/.test(count())).then((t) => ({ ...t, count: count() }));
  }, S.filter);
  const sort = await page.evaluate(() => {
    const first = () => document.querySelector('[data-testid="vm-table"] tbody tr')?.dataset.vmid;
    const before = first();
    return window.__benchTime(() => document.querySelector('button.sort').click(), () => first() !== before);
  });
  await context.close();
  return { load, memory, filter, sort };
}

async function measureBrowser(browser, big, base) {
  const got = { big: [], base: [] };
  for (let i = 0; i < S.repeats; i++) {
    got.big.push(await measureTab(browser, big));
    got.base.push(await measureTab(browser, base));
  }
  const pick = (f) => [got.big.map(f), got.base.map(f)];
  table(`browser: a fresh tab on / per repetition, performance.now() in the page, from navigation start (median (min–max) of ${S.repeats})`);
  row('HTML received (responseEnd)', ...pick((r) => r.load.html), 'ms');
  row('rows painted', ...pick((r) => r.load.rows), 'ms');
  row('hydrated', ...pick((r) => r.load.hydrated), 'ms');
  row('interactive (rows and hydrated)', ...pick((r) => r.load.interactive), 'ms', 'target < 1 s');
  row('page on the wire (encodedBodySize)', ...pick((r) => r.load.wire), 'B');
  row(`filter "${S.filter}": input → count changed`, ...pick((r) => r.filter.dom), 'ms', 'target < 100 ms');
  row(`filter "${S.filter}": → next frame`, ...pick((r) => r.filter.painted), 'ms');
  row('sort by ID: click → first row changed', ...pick((r) => r.sort.dom), 'ms');
  row('sort by ID: → next frame', ...pick((r) => r.sort.painted), 'ms');
  console.log(`  (filter result: "${got.big[0].filter.count}" / "${got.base[0].filter.count}")`);
  console.log(`memory of the tab, ${SETTLE_MS / 1000} s after interactive, after a forced GC`);
  row('JS heap used', ...pick((r) => r.memory.heap), 'MB');
  row('JS heap total', ...pick((r) => r.memory.heapTotal), 'MB');
  row('WASM linear memory', ...pick((r) => r.memory.wasm), 'MB');
  row('elements in the document', ...pick((r) => r.memory.elements), 'n');
  row("the tab's renderer process (PSS)", ...pick((r) => r.memory.renderer.max), 'MB');
}

/** `n` VM-list tabs open on `server` for the phase: upstream calls, list reloads, CPU, memory. */
async function tabsPhase(browser, server, n) {
  const contexts = [];
  let listCalls = 0;
  const opening = performance.now();
  console.log(`  ${n} tab(s) on ${server.base}/ …`);
  const stream = { events: 0, bytes: 0 }; // the first tab's live stream, as its page receives it
  let firstPage;
  for (let i = 0; i < n; i++) {
    const context = await newContext(browser, server);
    const page = await context.newPage();
    if (i === 0) {
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.enable');
      cdp.on('Network.eventSourceMessageReceived', (e) => { stream.events++; stream.bytes += e.data.length; });
      firstPage = page;
    }
    await page.goto(`${server.base}/`);
    await interactive(page);
    context.on('request', (r) => r.url().includes('/api/vms_list') && listCalls++);
    contexts.push(context);
  }
  const openSecs = (performance.now() - opening) / 1000;
  await sleep(3000); // live streams connected, opening's requests answered
  await afterPoll(server.sim);
  const [s0, p0, t0] = [await simStats(server.sim), proc(server.child.pid), performance.now()];
  [listCalls, stream.events, stream.bytes] = [0, 0, 0];
  await sleep(Math.max(0, S.phaseSecs * 1000 - 2000));
  await afterPoll(server.sim); // whole ticks: each poll and its live event counted once
  const [s1, p1, t1] = [await simStats(server.sim), proc(server.child.pid), performance.now()];
  const perMin = 60000 / (t1 - t0);
  const paths = Object.fromEntries(Object.entries(s1.requests).map(([k, v]) => [k, (v - (s0.requests[k] ?? 0)) * perMin]));
  const result = { n, openSecs, total: (s1.total - s0.total) * perMin, paths, list: listCalls * perMin,
    cpu: ((p1.cpu - p0.cpu) * 1000) / (t1 - t0) * 100, rss: p1.rss, renderers: renderers(),
    stream: { ...stream }, wasm: await wasmMemory(firstPage) };
  for (const context of contexts) await context.close();
  return result;
}

function printTabs(phases) {
  const one = phases[0];
  const line = (...cells) => console.log(`  ${cells.map(([text, width]) => String(text).padStart(width)).join('  ')}`);
  console.log(`\nupstream PVE calls per minute with N VM-list tabs open (GET /_sim/stats, ${S.phaseSecs} s per phase, ${num(S.vms)} VMs; ratios against ${one.n} tab(s))`);
  line(['tabs', 4], ['calls/min', 9], ['ratio', 6], ['list reloads/min', 16], ['server CPU', 10], ['server RSS', 10], ['renderers PSS (per tab)', 24], ['opened in', 9]);
  for (const p of phases) {
    line([p.n, 4], [num(p.total, 1), 9], [ratio(p.total, one.total), 6], [num(p.list, 1), 16], [`${num(p.cpu, 1)} %`, 10],
      [fmt(p.rss, 'MB'), 10], [`${fmt(p.renderers.pss, 'MB')} (${fmt(p.renderers.pss / p.n, 'MB')})`, 24], [`${num(p.openSecs, 1)} s`, 9]);
  }
  for (const p of phases) {
    // Per event, then per minute at one event per poll: a phase's count of events is ±1 (the
    // event of the poll that starts or ends it may arrive on either side of the reading).
    const each = p.stream.bytes / Math.max(1, p.stream.events), polls = p.paths['GET /cluster/resources'] ?? 0;
    console.log(`  ${p.n} tab(s): the first tab's live stream ${p.stream.events} events, ${fmt(each, 'B')} each, ` +
      `${fmt(each * polls, 'B')}/min at ${num(polls, 1)} polls/min; its WASM memory at the end ${fmt(p.wasm, 'MB')}`);
  }
  console.log('  per path (/nodes/{node}/status is read once a minute: a phase under 60 s may miss it):');
  const paths = [...new Set(phases.flatMap((p) => Object.keys(p.paths)))].sort();
  for (const k of paths.filter((k) => phases.some((p) => p.paths[k] > 0))) {
    console.log(`  ${k.padEnd(38)} ${phases.map((p) => `${num(p.paths[k] ?? 0, 1)}/min (${ratio(p.paths[k] ?? 0, one.paths[k] ?? 0)})`).join('   ')}`);
  }
}

/** Seven tabs in ONE browser profile over plain HTTP/1.1: how many become interactive. */
async function oneProfile(browser, server) {
  const context = await newContext(browser, server);
  let ok = 0;
  for (let i = 0; i < 7; i++) {
    const page = await context.newPage();
    ok += await page.goto(`${server.base}/`, { timeout: 10000 }).then(() => interactive(page, 10000)).then(() => 1, () => 0);
  }
  await context.close();
  console.log(`\none browser profile, plain HTTP/1.1: ${ok} of 7 VM-list tabs interactive within 10 s each` +
    ' (Chromium: 6 connections per host; each tab holds one for its live stream)');
}

/** Warnings and errors of a server log, grouped by their text with numbers taken out. */
function logSummary(server) {
  const lines = readFileSync(server.child.logPath, 'utf8').replace(/\x1b\[[0-9;]*m/g, '').split('\n')
    .filter((l) => /\b(WARN|ERROR)\b/.test(l)).map((l) => l.replace(/^\S+\s+/, '').slice(0, 200));
  const groups = new Map(); // shape → [count, first line]
  for (const l of lines) { const k = l.replace(/\d+/g, 'N'); groups.set(k, [(groups.get(k)?.[0] ?? 0) + 1, groups.get(k)?.[1] ?? l]); }
  console.log(`  ${server.name} log: ${lines.length} warnings/errors${lines.length ? ':' : ''}`);
  for (const [n, l] of [...groups.values()].slice(0, 6)) console.log(`    ${n}× ${l}`);
}

/** Stops the simulators and servers (SIGTERM, then SIGKILL after 5 s), so their logs are whole. */
async function stopAll() {
  await Promise.all(children.filter((c) => c.exitCode === null).map((c) => new Promise((resolve) => {
    const late = setTimeout(() => c.kill('SIGKILL'), 5000);
    c.on('exit', () => { clearTimeout(late); resolve(); });
    c.kill('SIGTERM');
  })));
}

// ---- run --------------------------------------------------------------------------------

async function main() {
  for (const file of [S.server, S.sim, S.site]) if (!existsSync(file)) throw new Error(`${file} is missing (see the header of this script)`);
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(`vm_list: simulator ${S.nodes} nodes × ${num(S.vms)} VMs, baseline ${S.baseNodes} × ${num(S.baseVms)}; ${S.server}; ${S.repeats} repetitions; tabs ${S.tabs.join(', ')} × ${S.phaseSecs} s; ${os.cpus().length} cores, load average ${load}; logs in ${dir}`);
  const t0 = performance.now();
  const [bigSim, baseSim] = await Promise.all([startSim('sim', S.port, S.nodes, S.vms), startSim('sim-baseline', S.port + 1, S.baseNodes, S.baseVms)]);
  const [big, base] = await Promise.all([startServer('server', S.port + 2, bigSim), startServer('server-baseline', S.port + 3, baseSim)]);
  console.log(`  simulators and servers up in ${num((performance.now() - t0) / 1000, 1)} s (${big.base}, baseline ${base.base}); the simulators refuse /cluster/metrics/export`);
  await measureSsr(big, base);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    await measureBrowser(browser, big, base);
    const phases = [];
    for (const n of S.tabs) phases.push(await tabsPhase(browser, big, n));
    if (phases.length) printTabs(phases);
    if (Math.max(...S.tabs) > 6) await oneProfile(browser, base);
  } finally {
    await browser.close();
    await stopAll();
  }
  console.log(`\nbrowser console errors: ${consoleErrors.length}`);
  for (const e of [...new Set(consoleErrors)].slice(0, 5)) console.log(`  ${e.slice(0, 200)}`);
  logSummary(big);
  logSummary(base);
  console.log(`done in ${num((performance.now() - t0) / 1000)} s`);
}

main().then(() => process.exit(0), (e) => { console.error(`vm_list: ${e.stack ?? e}\n  logs in ${dir}`); process.exit(1); });
