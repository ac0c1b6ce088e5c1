// Snapshots on the VM page: take (with a bad name first), roll back, delete.
// Run: cd end2end && npx playwright test snapshots.spec.ts
import { test, expect } from '@playwright/test';
import { ADMIN_PASSWORD, login, waitForHydration } from './helpers';

test('an operator takes a snapshot, rolls back to it and deletes it', async ({ page }) => {
  test.setTimeout(120_000);
  await login(page, 'admin', ADMIN_PASSWORD);
  await waitForHydration(page);
  const stopped = page.locator('tbody tr[data-kind="qemu"][data-status="stopped"]:has(button[data-action="start"])').last();
  const vmid = await stopped.getAttribute('data-vmid');
  await stopped.locator('a').first().click();
  await expect(page.getByTestId('detail-status')).toHaveText('stopped');
  const panel = page.getByTestId('snapshots');
  await expect(panel.getByTestId('snapshot-now')).toBeVisible();
  const tasks = page.getByTestId('task-panel').locator('li');

  // A name PVE would refuse: a clear error, and the input keeps what was typed.
  await panel.getByTestId('snapshot-name').fill('1st');
  await panel.getByTestId('snapshot-take').click();
  await expect(panel.getByRole('alert')).toContainText('starting with a letter');
  await expect(panel.getByTestId('snapshot-name')).toHaveValue('1st');

  await panel.getByTestId('snapshot-name').fill('e2e_before');
  await panel.getByTestId('snapshot-description').fill('before the start');
  await panel.getByTestId('snapshot-take').click();
  await expect(tasks.first()).toContainText(`Snapshot e2e_before of VM ${vmid}`);
  await expect(tasks.first()).toHaveAttribute('data-state', 'ok', { timeout: 30_000 });
  const row = panel.locator('tr[data-snapshot="e2e_before"]');
  await expect(row).toContainText('before the start');
  await expect(panel.getByTestId('snapshot-name')).toHaveValue('');

  // The same name again is refused before PVE is asked.
  await panel.getByTestId('snapshot-name').fill('e2e_before');
  await panel.getByTestId('snapshot-take').click();
  await expect(panel.getByRole('alert')).toContainText('already has a snapshot named e2e_before');

  // Start the VM, then roll back: the snapshot has no RAM, so the VM ends stopped.
  await page.locator('.power button[data-action="start"]').click();
  await expect(tasks.first()).toHaveAttribute('data-state', 'ok', { timeout: 30_000 });
  await expect(page.getByTestId('detail-status')).toHaveText('running');
  await row.getByTestId('snapshot-rollback').click();
  const confirm = panel.getByTestId('snapshot-confirm');
  await expect(confirm).toContainText(`Roll VM ${vmid} back to snapshot e2e_before?`);
  await expect(confirm).toContainText('is lost');
  await confirm.getByTestId('snapshot-confirm-yes').click();
  await expect(tasks.first()).toContainText(`Roll back VM ${vmid} to e2e_before`);
  await expect(tasks.first()).toHaveAttribute('data-state', 'ok', { timeout: 30_000 });
  await expect(page.getByTestId('detail-status')).toHaveText('stopped');

  // Delete, confirmed.
  await row.getByTestId('snapshot-delete').click();
  await expect(confirm).toContainText('Delete snapshot e2e_before');
  await confirm.getByTestId('snapshot-confirm-yes').click();
  await expect(tasks.first()).toHaveAttribute('data-state', 'ok', { timeout: 30_000 });
  await expect(row).toHaveCount(0);
});

test('a viewer sees the snapshots and the hardware but no buttons to change them, and the server refuses a snapshot', async ({ page, request }) => {
  // The admin's session, to create a viewer through the API the users page uses.
  await login(page, 'admin', ADMIN_PASSWORD);
  const name = `snapviewer${Date.now() % 100000}`;
  const created = await page.request.post('/api/users_create', {
    form: { username: name, password: 'viewer-password-1', role: 'viewer', scope: '' },
    headers: { Origin: new URL(page.url()).origin },
  });
  expect(created.ok(), await created.text()).toBe(true);
  const vmHref = await page.locator('tbody tr a').first().getAttribute('href');
  const [, , cluster, node, vmid] = vmHref!.split('/');

  const viewer = await page.context().browser()!.newContext();
  const vpage = await viewer.newPage();
  await login(vpage, name, 'viewer-password-1');
  await vpage.goto(vmHref!);
  await expect(vpage.getByTestId('snapshots')).toBeVisible();
  await expect(vpage.getByTestId('snapshot-form')).toHaveCount(0);
  await expect(vpage.getByTestId('snapshot-rollback')).toHaveCount(0);
  // Nor the hardware panel's device buttons.
  await expect(vpage.getByTestId('devices')).toBeVisible();
  for (const button of ['nic-add', 'nic-edit', 'nic-remove', 'disk-add', 'hw-grow']) {
    await expect(vpage.getByTestId(button)).toHaveCount(0);
  }
  const refused = await vpage.request.post('/api/snapshots_create', {
    form: { cluster, node, vmid, name: 'sneaky', description: '' },
    headers: { Origin: new URL(vpage.url()).origin },
  });
  expect(refused.status()).toBe(403);
  await viewer.close();
});
