// Faults survived, in one run: with the dashboard, the VM list and a running VM's console open
// in one browser, the simulator is driven through a matrix of faults one after another — slow
// PVE, random API errors, PVE's API down, a node offline, console WebSocket drops, tickets that
// expire every few seconds. Each time the pages must say what is wrong where they can, keep
// working, and be live again once the fault is lifted; no page may panic.
// Run: cd end2end && npx playwright test faults.spec.ts
import { test, expect, Page, APIRequestContext } from '@playwright/test';
import { ADMIN_PASSWORD, login, simFault, waitForHydration } from './helpers';

/** Uncaught exceptions and Rust panics of every watched page. */
function watchForPanics(page: Page, name: string, problems: string[]) {
  page.on('pageerror', (e) => problems.push(`${name}: uncaught ${e.name}: ${e.message}`));
  page.on('console', (m) => {
    if (/panicked|RuntimeError/i.test(m.text())) problems.push(`${name}: console ${m.type()}: ${m.text()}`);
  });
  page.on('crash', () => problems.push(`${name}: the page crashed`));
}

/** Records the text of every `role=alert` element that appears on the page (kept in the page). */
async function recordAlerts(page: Page) {
  await page.evaluate(() => {
    const w = window as any;
    w.__alerts = [];
    const scan = () => {
      for (const el of document.querySelectorAll('[role="alert"]')) {
        const text = (el.textContent ?? '').trim();
        if (!w.__alerts.includes(text)) w.__alerts.push(text);
      }
    };
    scan();
    new MutationObserver(scan).observe(document.body, { childList: true, subtree: true, characterData: true });
  });
}

async function seenAlerts(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as any).__alerts ?? []);
}

/** An error text a person can read: PVE's message in a sentence, no code, no dump. */
function expectReadable(texts: string[]) {
  for (const text of texts) {
    expect(text, 'an error message').toMatch(/^Cluster demo: .*Proxmox VE/);
    expect(text.length, text).toBeLessThan(300);
    expect(text, text).not.toMatch(/panicked|\[object|undefined|ServerFnError|[{}]|\\n/);
  }
}

/** Clicks the VM list's Refresh and waits for the server function's answer (not cached). */
async function refreshList(vms: Page) {
  const answer = vms.waitForResponse((r) => new URL(r.url()).pathname === '/api/vms_list', { timeout: 20_000 });
  await vms.getByRole('button', { name: 'Refresh', exact: true }).click();
  return answer;
}

/** The VM list's CPU sparklines moved: a live tick arrived on the VM list's own stream. */
async function expectSparklinesMove(vms: Page) {
  const line = vms.locator('tbody tr[data-kind="qemu"][data-status="running"] svg.sparkline polyline').first();
  await expect(line).toHaveAttribute('points', /,/);
  const before = await line.getAttribute('points');
  await expect.poll(() => line.getAttribute('points'), { timeout: 15_000 }).not.toBe(before);
}

/** The dashboard's CPU chart got a newer point: the overview stream ticks. */
async function expectDashboardTicks(dashboard: Page, timeout = 15_000) {
  const cpu = dashboard.locator('#chart-cpu');
  const before = Number(await cpu.getAttribute('data-last-t'));
  await expect.poll(async () => Number(await cpu.getAttribute('data-last-t')), { timeout }).toBeGreaterThan(before);
}

/** `/readyz`, asked with the logged-in browser's cookies. */
async function readyz(request: APIRequestContext) {
  const response = await request.get('/readyz', { maxRedirects: 0 });
  expect(response.headers()['content-type'], 'readyz answers JSON').toContain('application/json');
  return { status: response.status(), body: await response.json() };
}

/** The alerts firing right now, as the header badge sees them. */
async function firingAlerts(page: Page): Promise<{ target: string; message: string }[]> {
  const response = await page.request.post('/api/alerts_active', { form: {} });
  expect(response.ok()).toBe(true);
  return response.json();
}

/** The "Node offline" alert's message as the matrix saw it (checked among the gaps below). */
let nodeOfflineAlert: string | undefined;

test.afterEach(async ({ request }) => {
  // Whatever happened, leave the simulator without faults for the other specs.
  await simFault(request, {});
});

test('faults survived, in one run', async ({ page: vms, context, request }) => {
  test.setTimeout(210_000);
  const problems: string[] = [];

  // --- The three pages ---------------------------------------------------------------------
  await login(vms, 'admin', ADMIN_PASSWORD);
  await waitForHydration(vms);
  watchForPanics(vms, 'VM list', problems);
  const rows = vms.locator('[data-testid="vm-table"] tbody tr');
  await expect(rows.first()).toBeVisible();
  const vmCount = await rows.count();
  expect(vmCount).toBeGreaterThanOrEqual(10);
  const running = vms.locator('tbody tr[data-kind="qemu"][data-status="running"]').first();
  const consoleVm = {
    vmid: (await running.getAttribute('data-vmid'))!,
    node: (await running.getByTestId('vm-node').innerText()).trim(),
    name: (await running.getByTestId('vm-name').innerText()).trim(),
  };
  const nodes = [...new Set((await rows.getByTestId('vm-node').allInnerTexts()).map((t) => t.trim()))];
  // The node that goes offline: not the console's, and one that has VMs.
  const offlineNode = nodes.find((n) => n !== consoleVm.node)!;
  expect(offlineNode, `nodes ${nodes}`).toBeTruthy();
  await recordAlerts(vms);

  const dashboard = await context.newPage();
  watchForPanics(dashboard, 'dashboard', problems);
  await dashboard.goto('/dashboard');
  await waitForHydration(dashboard);
  const liveStatus = dashboard.getByTestId('live-status');
  await expect(liveStatus).toHaveAttribute('data-connected', 'true');
  await expect.poll(async () => Number(await dashboard.locator('#chart-cpu').getAttribute('data-points'))).toBeGreaterThan(1);
  await recordAlerts(dashboard);

  const screen = await context.newPage();
  watchForPanics(screen, 'console', problems);
  await screen.goto(`/vms/demo/${consoleVm.node}/${consoleVm.vmid}/console`);
  await waitForHydration(screen);
  const consoleStatus = screen.getByTestId('console-status');
  await expect(consoleStatus).toHaveAttribute('data-state', 'connected');
  await expect(consoleStatus).toHaveText(`Connected to ${consoleVm.name}`);
  // Every state the console goes through, with its status line.
  const consoleStates: { state: string; text: string }[] = [];
  await screen.exposeFunction('recordConsoleState', (state: string, text: string) => consoleStates.push({ state, text }));
  await screen.evaluate(() => {
    const el = document.querySelector('[data-testid="console-status"]')!;
    new MutationObserver(() =>
      (window as any).recordConsoleState(el.getAttribute('data-state'), (el.textContent ?? '').trim()),
    ).observe(el, { attributes: true, childList: true, subtree: true, characterData: true });
  });

  /** Everything is live and nothing panicked: asserted after every fault is lifted. */
  const expectAllLive = async (after: string) => {
    await test.step(`all live again after ${after}`, async () => {
      expect(problems, 'no panics, no uncaught errors').toEqual([]);
      const health = await request.get('/healthz');
      expect(health.ok()).toBe(true);
      expect(await health.text()).toBe('ok');
      // Dashboard: the stream is live, no stale mark left (a failing cluster is polled again
      // with backoff, so allow a few ticks), and new points arrive.
      await expect(liveStatus).toHaveAttribute('data-connected', 'true');
      await expect(liveStatus).toHaveText('● live');
      await expect(dashboard.getByTestId('stale')).toHaveCount(0, { timeout: 30_000 });
      await expectDashboardTicks(dashboard);
      // VM list: a refresh lists every VM again, with no problem message, and the sparklines move.
      const answer = await refreshList(vms);
      expect(answer.status()).toBe(200);
      await expect(rows).toHaveCount(vmCount);
      await expect(vms.locator('[role="alert"]')).toHaveCount(0);
      await expect(vms.locator(`tbody tr[data-vmid="${consoleVm.vmid}"]`)).toHaveAttribute('data-status', 'running');
      await expectSparklinesMove(vms);
      // Console: connected (again).
      await expect(consoleStatus).toHaveAttribute('data-state', 'connected', { timeout: 30_000 });
    });
  };

  // --- 1. PVE answers every request 2 s late -------------------------------------------------
  await test.step('2 s latency on the PVE API', async () => {
    await simFault(request, { latency_ms: 2000 });
    // Readiness states it: the cluster does not answer within its 2 s check.
    await expect.poll(async () => (await readyz(vms.request)).status, { timeout: 15_000 }).toBe(503);
    const slow = await readyz(vms.request);
    expect(slow.body.clusters[0]).toMatchObject({ name: 'demo', ok: false, error: 'timeout' });
    // The VM list still loads, slowly but completely (a refresh, and a full page load).
    const started = Date.now();
    const answer = await refreshList(vms);
    expect(answer.status()).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    await expect(rows).toHaveCount(vmCount);
    await expect(vms.locator('[role="alert"]')).toHaveCount(0);
    const reload = await context.newPage();
    watchForPanics(reload, 'VM list (reloaded under latency)', problems);
    await reload.goto('/');
    await expect(reload.getByTestId('vm-table').locator('tbody tr')).toHaveCount(vmCount, { timeout: 20_000 });
    await reload.close();
    // The dashboard keeps ticking (slower), without a stale mark; the open console is untouched.
    await expectDashboardTicks(dashboard, 20_000);
    await expect(liveStatus).toHaveAttribute('data-connected', 'true');
    await expect(dashboard.getByTestId('stale')).toHaveCount(0);
    await expect(consoleStatus).toHaveAttribute('data-state', 'connected');
    await simFault(request, {});
    await expect.poll(async () => (await readyz(vms.request)).status, { timeout: 15_000 }).toBe(200);
  });
  await expectAllLive('latency');

  // --- 2. One PVE request in ten fails --------------------------------------------------------
  await test.step('10 % of PVE API requests fail', async () => {
    await recordAlerts(vms);
    await recordAlerts(dashboard);
    await simFault(request, { error_rate: 0.1 });
    // The VM list keeps answering: every refresh either lists all VMs or says which cluster
    // failed and why; the server function itself never fails.
    let complete = 0;
    for (let i = 0; i < 8; i++) {
      const answer = await refreshList(vms);
      expect(answer.status()).toBe(200);
      const problem = vms.locator('[role="alert"]');
      if ((await problem.count()) === 0) {
        await expect(rows).toHaveCount(vmCount);
        complete += 1;
      }
    }
    expect(complete, 'most refreshes list every VM').toBeGreaterThan(0);
    // The dashboard kept its stream; if a poll failed meanwhile, it said so in words.
    await expect(liveStatus).toHaveAttribute('data-connected', 'true');
    await expect(consoleStatus).toHaveAttribute('data-state', 'connected');
    const shown = [...(await seenAlerts(vms)), ...(await seenAlerts(dashboard))];
    test.info().annotations.push({ type: 'errors shown under 10 % errors', description: JSON.stringify(shown) });
    expectReadable(shown);
    await simFault(request, {});
  });
  await expectAllLive('10 % errors');

  // --- 3. PVE's /cluster/resources fails every time (the cluster API is down) -----------------
  await test.step('the cluster API fails', async () => {
    await recordAlerts(vms);
    await simFault(request, { error_rates: { '/cluster/resources': 1.0 } });
    // The dashboard marks the cluster stale, saying since when and why, while the stream
    // itself stays connected.
    const stale = dashboard.getByTestId('stale');
    await expect(stale).toBeVisible({ timeout: 15_000 });
    await expect(stale).toHaveText(
      /^Cluster demo: no data since \d\d:\d\d(:\d\d)?( \S+)? — Proxmox VE error \(HTTP 500\): simulated failure \(pve-sim fault injection\)$/,
    );
    await expect(liveStatus).toHaveAttribute('data-connected', 'true');
    // The VM list says which cluster failed and why.
    const answer = await refreshList(vms);
    expect(answer.status()).toBe(200);
    // Its live stream marks the cluster stale too.
    await expect(vms.getByTestId('stale')).toBeVisible();
    const problem = vms.getByRole('alert').filter({ hasText: /^Cluster demo: Proxmox VE:/ });
    await expect(problem).toHaveText(/^Cluster demo: Proxmox VE: .*simulated failure \(pve-sim fault injection\)/);
    expectReadable(await seenAlerts(vms));
    test.info().annotations.push({
      type: 'VM list while /cluster/resources fails',
      description: `rows shown: ${await rows.count()} of ${vmCount}; message: ${await problem.innerText()}`,
    });
    await simFault(request, {});
  });
  await expectAllLive('the cluster API failing');

  // --- 4. A node goes offline -----------------------------------------------------------------
  await test.step(`node ${offlineNode} offline`, async () => {
    const onNode = vms.locator('tbody tr').filter({ has: vms.getByTestId('vm-node').filter({ hasText: new RegExp(`^${offlineNode}$`) }) });
    const vmsOnNode = await onNode.count();
    expect(vmsOnNode).toBeGreaterThan(0);
    await simFault(request, { node_offline: offlineNode });
    // The VM list: that node's VMs are "unknown" (PVE cannot say), the others unchanged.
    await expect
      .poll(async () => {
        await refreshList(vms);
        return onNode.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-status')));
      }, { timeout: 20_000 })
      .toEqual(Array(vmsOnNode).fill('unknown'));
    await expect(onNode.first().getByTestId('vm-status')).toHaveText('unknown');
    await expect(rows).toHaveCount(vmCount);
    await expect(vms.locator(`tbody tr[data-vmid="${consoleVm.vmid}"]`)).toHaveAttribute('data-status', 'running');
    // The dashboard keeps ticking for the rest of the cluster, and the console (on another
    // node) stays connected.
    await expectDashboardTicks(dashboard);
    await expect(dashboard.getByTestId('stale')).toHaveCount(0);
    await expect(consoleStatus).toHaveAttribute('data-state', 'connected');
    // The "Node offline" alert (default rule: offline for 30 s) fires, and the header badge of
    // both pages shows it.
    await expect
      .poll(async () => (await firingAlerts(vms)).some((a) => a.target === `node/${offlineNode}`), { timeout: 60_000 })
      .toBe(true);
    const alert = (await firingAlerts(vms)).find((a) => a.target === `node/${offlineNode}`)!;
    nodeOfflineAlert = alert.message;
    test.info().annotations.push({ type: 'node offline alert', description: alert.message });
    for (const p of [vms, dashboard]) {
      await expect(p.getByTestId('alert-badge')).toBeVisible({ timeout: 10_000 });
      await expect(p.getByTestId('alert-badge')).toHaveClass(/critical/);
    }
    await simFault(request, {});
    // Back online: its VMs have their status again and the alert ends.
    await expect
      .poll(async () => {
        await refreshList(vms);
        return onNode.evaluateAll((trs) => trs.filter((tr) => tr.getAttribute('data-status') === 'unknown').length);
      }, { timeout: 20_000 })
      .toBe(0);
    await expect
      .poll(async () => (await firingAlerts(vms)).some((a) => a.target === `node/${offlineNode}`), { timeout: 20_000 })
      .toBe(false);
  });
  await expectAllLive('a node offline');

  // --- 5. Console WebSockets are cut 2 s after they open --------------------------------------
  await test.step('console WebSocket drops', async () => {
    consoleStates.length = 0;
    await simFault(request, { ws_drop_after_secs: 2 });
    // The console says it lost the connection and is reconnecting, then connects again …
    await expect.poll(() => consoleStates.map((s) => s.state), { timeout: 15_000 }).toContain('reconnecting');
    const reconnecting = consoleStates.find((s) => s.state === 'reconnecting')!;
    expect(reconnecting.text).toMatch(/^Connection lost — reconnecting in \d+ s \(attempt \d+\)$/);
    await expect
      .poll(() => consoleStates.slice(consoleStates.indexOf(reconnecting)).some((s) => s.state === 'connected'), { timeout: 20_000 })
      .toBe(true);
    // … and keeps doing so while the fault lasts (each new session is cut again).
    await expect
      .poll(() => consoleStates.filter((s) => s.state === 'reconnecting').length, { timeout: 20_000 })
      .toBeGreaterThanOrEqual(2);
    await simFault(request, {});
    await expect(consoleStatus).toHaveAttribute('data-state', 'connected', { timeout: 30_000 });
    await expect(consoleStatus).toHaveText(`Connected to ${consoleVm.name}`);
    // Lifted: the session outlives the old 2 s limit (waiting is the point here).
    const drops = consoleStates.filter((s) => s.state === 'reconnecting').length;
    await screen.waitForTimeout(4_000);
    expect(consoleStates.filter((s) => s.state === 'reconnecting').length, 'no drop after the fault was lifted').toBe(drops);
    await expect(consoleStatus).toHaveAttribute('data-state', 'connected');
    // The dashboard and the VM list did not notice.
    await expect(liveStatus).toHaveAttribute('data-connected', 'true');
    await expect(dashboard.getByTestId('stale')).toHaveCount(0);
  });
  await expectAllLive('WebSocket drops');

  // --- 6. PVE tickets expire after 4 s --------------------------------------------------------
  await test.step('tickets expire every few seconds', async () => {
    await recordAlerts(vms);
    await recordAlerts(dashboard);
    const lifetime = 4;
    await simFault(request, { ticket_lifetime_secs: lifetime });
    // Cecyber logs in to PVE again by itself: nothing visible breaks. Each round lets the
    // current ticket grow older than its lifetime (the wait is the point).
    for (let round = 0; round < 2; round++) {
      await vms.waitForTimeout((lifetime + 0.5) * 1000);
      const answer = await refreshList(vms);
      expect(answer.status()).toBe(200);
      await expect(rows).toHaveCount(vmCount);
      await expect(vms.locator('[role="alert"]')).toHaveCount(0);
    }
    // A console opened with an old ticket: a fresh vncproxy and vncwebsocket.
    await screen.getByTestId('reconnect').click();
    await expect(consoleStatus).toHaveAttribute('data-state', 'connected', { timeout: 20_000 });
    // The dashboard kept ticking, never stale.
    await expectDashboardTicks(dashboard);
    await expect(liveStatus).toHaveAttribute('data-connected', 'true');
    expect(await seenAlerts(vms), 'no error on the VM list').toEqual([]);
    expect(await seenAlerts(dashboard), 'no stale mark on the dashboard').toEqual([]);
    await simFault(request, {});
  });
  await expectAllLive('expiring tickets');

  // --- The end of the matrix ------------------------------------------------------------------
  const ready = await readyz(vms.request);
  expect(ready.status, JSON.stringify(ready.body)).toBe(200);
  expect(problems, 'no page panicked during the whole run').toEqual([]);
});

// What the first run of the matrix found missing, now stated by the UI.
test.describe('faults the UI states in words', () => {
  test('the "Node offline" alert says that the node is offline', async () => {
    // Seen by the matrix above (the alert fires after the rule's default 30 s offline).
    expect(nodeOfflineAlert, 'the matrix saw the alert').toBeDefined();
    expect(nodeOfflineAlert).toMatch(/\boffline\b/i);
  });

  test('the VM list and the dashboard say which node is offline, in words', async ({ page: vms, context, request }) => {
    await login(vms, 'admin', ADMIN_PASSWORD);
    await waitForHydration(vms);
    const dashboard = await context.newPage();
    await dashboard.goto('/dashboard');
    await waitForHydration(dashboard);
    await expect(dashboard.getByTestId('live-status')).toHaveAttribute('data-connected', 'true');
    const node = 'pve2';
    await simFault(request, { node_offline: node });
    const saysOffline = new RegExp(`${node}\\b.*\\boffline|\\boffline\\b.*${node}\\b`, 'i');
    // Within two ticks, and at the list's next refresh.
    await expect(dashboard.getByTestId('node-offline').filter({ hasText: saysOffline })).toBeVisible({ timeout: 6_000 });
    const listSays = () => vms.getByTestId('node-offline').filter({ hasText: saysOffline }).count();
    await expect.poll(async () => { await refreshList(vms); return listSays(); }, { timeout: 10_000 }).toBe(1);
    await simFault(request, {});
    await expect(dashboard.getByTestId('node-offline')).toHaveCount(0, { timeout: 10_000 });
    await expect.poll(async () => { await refreshList(vms); return listSays(); }, { timeout: 10_000 }).toBe(0);
  });

  test('the VM list marks its live data stale while the cluster does not answer', async ({ page: vms, request }) => {
    await login(vms, 'admin', ADMIN_PASSWORD);
    await waitForHydration(vms);
    const sparkline = vms.locator('tbody tr[data-kind="qemu"][data-status="running"] svg.sparkline').first();
    await expect.poll(async () => Number(await sparkline.getAttribute('data-points'))).toBeGreaterThan(1);
    await simFault(request, { error_rates: { '/cluster/resources': 1.0 } });
    try {
      // As the dashboard does: a mark within two ticks, before the list's own 10 s refresh.
      await expect(vms.getByTestId('stale'), 'a stale mark on the VM list').toBeVisible({ timeout: 6_000 });
    } finally {
      await simFault(request, {});
      // The collector polls again (after its backoff) before the next spec starts.
      await expectSparklinesMove(vms);
    }
  });
});
