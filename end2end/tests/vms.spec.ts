// The VM list, power actions with their tasks, and the VM page.
// Run: cd end2end && npx playwright test vms.spec.ts
import { test, expect, Page } from '@playwright/test';
import { ADMIN_PASSWORD, login, waitForHydration } from './helpers';

test.beforeEach(async ({ page }) => {
  await login(page, 'admin', ADMIN_PASSWORD);
  await waitForHydration(page);
});

test('the list shows the simulated VMs, and filters and sorts them', async ({ page }) => {
  const rows = page.locator('[data-testid="vm-table"] tbody tr');
  await expect(rows.first()).toBeVisible();
  const count = await rows.count();
  expect(count).toBeGreaterThanOrEqual(10);
  await expect(page.locator('tbody tr[data-kind="qemu"][data-status="running"]').first()).toBeVisible();
  await expect(page.locator('tbody tr[data-kind="qemu"][data-status="stopped"]').first()).toBeVisible();
  // Running VMs get a CPU sparkline from the live stream (filled from PVE's history).
  const sparkline = page.locator('tbody tr[data-kind="qemu"][data-status="running"] svg.sparkline').first();
  await expect.poll(async () => Number(await sparkline.getAttribute('data-points'))).toBeGreaterThan(10);

  // Filter by the first VM's id: exactly that row remains.
  const firstId = await rows.first().getAttribute('data-vmid');
  await page.getByTestId('vm-filter').fill(firstId!);
  await expect(rows).toHaveCount(1);
  await page.getByTestId('vm-filter').fill('');
  await expect(rows).toHaveCount(count);

  // Status filter (the server filters: the rows change once its answer is in).
  const statuses = () => rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-status')));
  await page.getByTestId('status-filter').selectOption('running');
  await expect.poll(async () => [...new Set(await statuses())]).toEqual(['running']);
  await page.getByTestId('status-filter').selectOption('all');
  await expect(rows).toHaveCount(count);

  // Sort by id descending.
  await page.getByRole('button', { name: /^ID/ }).click();
  await expect(page.getByRole('button', { name: /^ID/ })).toContainText('▼');
  const ids = await rows.evaluateAll((trs) => trs.map((tr) => Number(tr.getAttribute('data-vmid'))));
  expect(ids.length).toBe(count);
  expect(ids).toEqual([...ids].sort((a, b) => b - a));
});

test('starting a stopped VM shows the task and ends with the VM running', async ({ page }) => {
  const stopped = page.locator('tbody tr[data-kind="qemu"][data-status="stopped"]:has(button[data-action="start"])').first();
  const vmid = await stopped.getAttribute('data-vmid');
  await stopped.locator('button[data-action="start"]').click();

  const task = page.getByTestId('task-panel').locator('li').first();
  await expect(task).toContainText(`Start VM ${vmid}`);
  await expect(task).toHaveAttribute('data-state', 'ok', { timeout: 30_000 });
  await expect(task).toContainText('OK');
  await expect(page.locator(`tbody tr[data-vmid="${vmid}"]`)).toHaveAttribute('data-status', 'running');
});

test('stopping asks for confirmation first, and cancel does nothing', async ({ page }) => {
  const running = page.locator('tbody tr[data-kind="qemu"][data-status="running"]').first();
  const vmid = await running.getAttribute('data-vmid');
  await running.locator('button[data-action="stop"]').click();
  const dialog = page.getByTestId('confirm-dialog');
  await expect(dialog).toContainText(`Stop VM ${vmid}`);
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(dialog).toBeHidden();
  await expect(page.getByTestId('task-panel').locator('li')).toHaveCount(0);

  await running.locator('button[data-action="stop"]').click();
  await page.getByTestId('confirm').click();
  const task = page.getByTestId('task-panel').locator('li').first();
  await expect(task).toHaveAttribute('data-state', 'ok', { timeout: 30_000 });
  await expect(page.locator(`tbody tr[data-vmid="${vmid}"]`)).toHaveAttribute('data-status', 'stopped');
});

test('a paused VM offers Resume and Stop only, in the list and on its page', async ({ page }) => {
  const vmid = await page.locator('tbody tr[data-kind="qemu"][data-status="running"]').last().getAttribute('data-vmid');
  const row = page.locator(`tbody tr[data-vmid="${vmid}"]`);
  const actions = (scope: typeof row) =>
    scope.locator('button[data-action]').evaluateAll((bs) => bs.map((b) => b.getAttribute('data-action')));
  expect(await actions(row)).toEqual(['shutdown', 'reboot', 'suspend', 'stop']);

  // Pausing interrupts the guest: confirmed first.
  await row.locator('button[data-action="suspend"]').click();
  await expect(page.getByTestId('confirm-dialog')).toContainText(`Pause VM ${vmid}`);
  await page.getByTestId('confirm').click();
  const task = page.getByTestId('task-panel').locator('li').first();
  await expect(task).toHaveAttribute('data-state', 'ok', { timeout: 30_000 });
  // The task's whole log, as PVE wrote it.
  await task.locator('summary').click();
  await expect(task.getByTestId('task-log')).toContainText('TASK OK');
  await expect(row).toHaveAttribute('data-status', 'paused');
  await expect(row.getByTestId('vm-status')).toHaveText('paused');
  // No Start (PVE refuses it while the process exists), no Shutdown or Reboot (refused while
  // paused).
  expect(await actions(row)).toEqual(['resume', 'stop']);
  await page.getByTestId('status-filter').selectOption('paused');
  const statuses = () => page.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-status')));
  await expect.poll(async () => [...new Set(await statuses())]).toEqual(['paused']);
  await expect(row).toBeVisible();

  // Its page says paused too, and resumes it.
  await row.locator('a').first().click();
  await expect(page.getByTestId('detail-status')).toHaveText('paused');
  const buttons = page.locator('.power');
  expect(await actions(buttons)).toEqual(['resume', 'stop']);
  await buttons.locator('button[data-action="resume"]').click();
  const resumed = page.getByTestId('task-panel').locator('li').first();
  await expect(resumed).toContainText(`Resume VM ${vmid}`);
  await expect(resumed).toHaveAttribute('data-state', 'ok', { timeout: 30_000 });
  await expect(page.getByTestId('detail-status')).toHaveText('running');
});

test('the VM page shows status/current', async ({ page }) => {
  const row = page.locator('tbody tr[data-kind="qemu"][data-status="running"]').first();
  const vmid = await row.getAttribute('data-vmid');
  await row.locator('a').first().click();
  await expect(page.getByRole('heading', { level: 1 })).toContainText(`VM ${vmid}`);
  await expect(page.getByTestId('detail-status')).toHaveText('running');
  await expect(page.locator('table.facts')).toContainText('Memory');
});

test('a VM that does not exist gets a clear error', async ({ page }) => {
  await page.goto('/vms/demo/pve1/999999');
  await expect(page.getByRole('alert')).toContainText(/not found|does not exist/i);
  await page.goto('/vms/demo/no..de/100');
  await expect(page.getByRole('alert')).toContainText(/invalid node name/i);
});

test('LXC containers are listed with the actions PVE has for them, and start and stop', async ({ page }) => {
  const actions = (scope: ReturnType<Page['locator']>) =>
    scope.locator('button[data-action]').evaluateAll((bs) => bs.map((b) => b.getAttribute('data-action')));
  const ct = page.locator('tbody tr[data-kind="lxc"][data-status="stopped"]').first();
  const vmid = (await ct.getAttribute('data-vmid'))!;
  const row = page.locator(`tbody tr[data-vmid="${vmid}"]`);
  await expect(row.getByTestId('vm-name')).toContainText('CT');
  expect(await actions(row)).toEqual(['start']);

  await row.locator('button[data-action="start"]').click();
  const task = page.getByTestId('task-panel').locator('li').first();
  await expect(task).toContainText(`Start CT ${vmid}`);
  await expect(task).toHaveAttribute('data-state', 'ok', { timeout: 30_000 });
  await expect(row).toHaveAttribute('data-status', 'running');
  // No pause (experimental for containers in PVE) and no console (a VM's screen).
  expect(await actions(row)).toEqual(['shutdown', 'reboot', 'stop']);
  await expect(row.locator('[data-action="console"]')).toHaveCount(0);

  await row.locator('button[data-action="stop"]').click();
  await expect(page.getByTestId('confirm-dialog')).toContainText(`Stop CT ${vmid}`);
  await page.getByTestId('confirm').click();
  await expect(page.getByTestId('task-panel').locator('li').first()).toHaveAttribute('data-state', 'ok', { timeout: 30_000 });
  await expect(row).toHaveAttribute('data-status', 'stopped');
});
