// Bulk actions in the VM list: picking by click, shift-click and "all matching", one
// confirmation that lists the VMs (and the skipped ones), bounded parallel tasks in one
// progress view; filters in the URL. The VMs it starts it stops again, for the specs after it.
// Run: cd end2end && npx playwright test bulk.spec.ts
import { test, expect, Page } from '@playwright/test';
import { ADMIN_PASSWORD, login, waitForHydration } from './helpers';

test.beforeEach(async ({ page }) => {
  await login(page, 'admin', ADMIN_PASSWORD);
  await waitForHydration(page);
});

const rows = (page: Page) => page.locator('[data-testid="vm-table"] tbody tr');
const row = (page: Page, vmid: string) => page.locator(`[data-testid="vm-table"] tbody tr[data-vmid="${vmid}"]`);

async function runBulk(page: Page, action: string, count: number) {
  await page.getByTestId('bulk-bar').locator(`button[data-bulk="${action}"]`).click();
  const dialog = page.getByTestId('bulk-dialog');
  await expect(dialog.getByTestId('bulk-acting').locator('li')).toHaveCount(count);
  await dialog.getByTestId('bulk-confirm').click();
  await expect(dialog).toBeHidden();
  const progress = page.getByTestId('bulk-progress');
  await expect(progress).toHaveAttribute('data-ended', 'true', { timeout: 60_000 });
  await expect(progress.getByTestId('bulk-summary')).toHaveText(`${count} of ${count} done`);
  await expect(progress.locator('li[data-state="ok"]')).toHaveCount(count);
  return progress;
}

test('bulk start of three VMs, picked with a click and a shift-click, then bulk stop', async ({ page }) => {
  // The filter lives in the URL: a shared link opens the same view.
  await page.goto('/?status=stopped');
  await waitForHydration(page);
  await expect(page.getByTestId('status-filter')).toHaveValue('stopped');
  const statuses = await rows(page).evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-status')));
  expect(statuses.length).toBeGreaterThanOrEqual(3);
  expect(new Set(statuses)).toEqual(new Set(['stopped']));

  const ids = (await rows(page).evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-vmid')!))).slice(0, 3);
  await row(page, ids[0]).getByTestId('select-vm').click();
  await row(page, ids[2]).getByTestId('select-vm').click({ modifiers: ['Shift'] });
  await expect(page.getByTestId('bulk-count')).toHaveText('3 selected');
  for (const id of ids) await expect(row(page, id).getByTestId('select-vm')).toBeChecked();

  // One confirmation naming every VM; Cancel does nothing.
  await page.getByTestId('bulk-bar').locator('button[data-bulk="start"]').click();
  const dialog = page.getByTestId('bulk-dialog');
  await expect(dialog.getByRole('heading')).toHaveText('Start 3 VMs?');
  for (const id of ids) await expect(dialog.locator(`[data-testid="bulk-acting"] li[data-vmid="${id}"]`)).toBeVisible();
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(dialog).toBeHidden();
  await expect(page.getByTestId('bulk-progress')).toHaveCount(0);

  const progress = await runBulk(page, 'start', 3);
  for (const id of ids) await expect(progress.locator(`li[data-vmid="${id}"]`)).toContainText('OK');
  // The picks are cleared, and the stopped list no longer has them.
  await expect(page.getByTestId('bulk-count')).toHaveText('0 selected');
  for (const id of ids) await expect(row(page, id)).toHaveCount(0);

  // All VMs: the three run. Stop them again, together.
  await page.getByTestId('status-filter').selectOption('all');
  await expect(page).toHaveURL(/\/$/);
  for (const id of ids) await expect(row(page, id)).toHaveAttribute('data-status', 'running');
  await progress.getByTestId('bulk-dismiss').click();
  for (const id of ids) await row(page, id).getByTestId('select-vm').click();
  await runBulk(page, 'stop', 3);
  for (const id of ids) await expect(row(page, id)).toHaveAttribute('data-status', 'stopped');
});

test('the confirmation skips VMs the action does not apply to and says why', async ({ page }) => {
  const running = await page.locator('tbody tr[data-kind="qemu"][data-status="running"]').first().getAttribute('data-vmid');
  const stopped = await page.locator('tbody tr[data-kind="qemu"][data-status="stopped"]').first().getAttribute('data-vmid');
  await row(page, running!).getByTestId('select-vm').click();
  await row(page, stopped!).getByTestId('select-vm').click();
  await page.getByTestId('bulk-bar').locator('button[data-bulk="start"]').click();
  const dialog = page.getByTestId('bulk-dialog');
  await expect(dialog.getByRole('heading')).toHaveText('Start 1 VM?');
  await expect(dialog.getByTestId('bulk-acting').locator('li')).toHaveCount(1);
  await expect(dialog.locator(`[data-testid="bulk-skipped"] li[data-vmid="${running}"]`)).toContainText('it is running');
  await dialog.getByRole('button', { name: 'Cancel' }).click();

  // Migration asks for a target first; the VMs on it are skipped.
  await page.getByTestId('bulk-bar').locator('button[data-bulk="migrate"]').click();
  await expect(dialog.getByTestId('bulk-confirm')).toBeDisabled();
  const runningNode = (await row(page, running!).getByTestId('vm-node').innerText()).trim();
  await dialog.getByTestId('bulk-target').selectOption(runningNode);
  await expect(dialog.locator(`[data-testid="bulk-skipped"] li[data-vmid="${running}"]`)).toContainText(`it is on ${runningNode} already`);
  await dialog.getByRole('button', { name: 'Cancel' }).click();
});

test('"select all matching" picks every VM the filter finds, on every page', async ({ page }) => {
  await page.getByTestId('status-filter').selectOption('running');
  await expect(page).toHaveURL(/status=running/);
  // The server's filtered answer, not the rows from before it.
  await expect
    .poll(() => rows(page).evaluateAll((trs) => [...new Set(trs.map((tr) => tr.getAttribute('data-status')))]))
    .toEqual(['running']);
  const shown = await rows(page).count();
  await page.getByTestId('bulk-select-all').click();
  await expect(page.getByTestId('bulk-count')).toHaveText(`${shown} selected`);
  await expect(page.getByTestId('select-page')).toBeChecked();
  await page.getByTestId('select-page').click();
  await expect(page.getByTestId('bulk-count')).toHaveText('0 selected');

  // The text filter goes into the URL too, and a reload shows the same view.
  await page.getByTestId('status-filter').selectOption('stopped');
  await page.getByTestId('vm-filter').fill('prod');
  await expect(page).toHaveURL(/q=prod/);
  await expect(page).toHaveURL(/status=stopped/);
  await page.reload();
  await waitForHydration(page);
  await expect(page.getByTestId('vm-filter')).toHaveValue('prod');
  await expect(page.getByTestId('status-filter')).toHaveValue('stopped');
  const pools = await rows(page).evaluateAll((trs) => trs.map((tr) => tr.querySelector('[data-testid="vm-pool"]')!.textContent));
  // db-primary (prod, stopped in the demo) at least.
  expect(pools.length).toBeGreaterThan(0);
  // "prod" matches the production pool's VMs (by tag or pool).
  expect(pools.every((p) => p === 'production')).toBe(true);
  await expect(page.getByTestId('vm-count')).toContainText(`of ${pools.length} matching`);
});

test('a viewer gets no picking or bulk actions, and the server refuses the selection', async ({ page, browser }) => {
  // The roles spec made viewers; make our own to be independent of it.
  const name = `bulkviewer${Date.now() % 100000}`;
  await page.goto('/users');
  const form = page.getByTestId('new-user');
  await form.getByPlaceholder('Username').fill(name);
  await form.getByPlaceholder(/^Password/).fill('viewer-password-1');
  await form.locator('select[name="role"]').selectOption('viewer');
  await form.getByRole('button', { name: 'Create' }).click();
  await expect(page.locator(`tr[data-user="${name}"]`)).toBeVisible();

  const context = await browser.newContext();
  const viewer = await context.newPage();
  await login(viewer, name, 'viewer-password-1');
  await waitForHydration(viewer);
  await expect(viewer.getByTestId('bulk-bar')).toHaveCount(0);
  await expect(viewer.getByTestId('select-vm')).toHaveCount(0);
  const refused = await viewer.request.post('/api/vms_matching', { form: {} });
  expect(refused.status()).toBe(403);
  await context.close();
});
