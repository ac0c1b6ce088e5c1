// Migration from the VM page: the precondition check, the task, the page following the VM;
// a long migration's log read past line 50 and the migration stopped from the task center.
// Run: cd end2end && npx playwright test migrate.spec.ts
import { test, expect, Page } from '@playwright/test';
import { ADMIN_PASSWORD, login, simFault, waitForHydration } from './helpers';

/** Opens the page of the VM named `name` from the list; returns its id and node. */
async function openVm(page: Page, name: string) {
  const row = page.locator('[data-testid="vm-table"] tbody tr', { has: page.getByRole('link', { name, exact: true }) });
  const vmid = await row.getAttribute('data-vmid');
  await row.getByRole('link', { name, exact: true }).click();
  await expect(page.getByTestId('detail-status')).toBeVisible();
  const node = new URL(page.url()).pathname.split('/')[3];
  return { vmid: vmid!, node };
}

test('an operator migrates a VM after the check, and its page follows it', async ({ page }) => {
  test.setTimeout(90_000);
  await login(page, 'admin', ADMIN_PASSWORD);
  await waitForHydration(page);
  // dns1: an 8 GiB disk, a short copy.
  const { vmid, node } = await openVm(page, 'dns1');
  await page.getByTestId('migrate-open').click();
  const dialog = page.getByTestId('migrate-dialog');
  await expect(dialog).toContainText(`Migrate VM ${vmid} from ${node}`);
  await expect(dialog.getByTestId('migrate-disks')).toContainText(`vm-${vmid}-disk-0`);
  const target = dialog.getByTestId('migrate-target');
  const options = await target.locator('option:not([disabled])').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
  expect(options).not.toContain(node);
  expect(options.length).toBeGreaterThan(0);
  await target.selectOption(options[options.length - 1]);
  const to = options[options.length - 1];
  await dialog.getByTestId('migrate-go').click();
  const task = page.getByTestId('task-panel').locator('li').first();
  await expect(task).toContainText(`Migrate VM ${vmid} to ${to}`);
  await expect(task).toHaveAttribute('data-state', 'ok', { timeout: 60_000 });
  await expect(page).toHaveURL(new RegExp(`/vms/demo/${to}/${vmid}$`));
  await expect(page.locator('main')).toContainText(`on ${to}`);
  await task.locator('summary').click();
  await expect(task.getByTestId('task-log')).toContainText('migration finished successfully');

  // The old link still leads to the VM.
  await page.goto(`/vms/demo/${node}/${vmid}`);
  await expect(page).toHaveURL(new RegExp(`/vms/demo/${to}/${vmid}$`));
  await expect(page.locator('main')).toContainText(`on ${to}`);
});

test("a long migration's log reads on past line 50, and the task center stops it", async ({ page, request }) => {
  test.setTimeout(120_000);
  await login(page, 'admin', ADMIN_PASSWORD);
  await waitForHydration(page);
  // db-primary: a 128 GiB disk, a progress line per GiB; three times faster than real.
  await simFault(request, { task_speed: 3 });
  try {
    const { vmid, node } = await openVm(page, 'db-primary');
    await page.getByTestId('migrate-open').click();
    await page.getByTestId('migrate-go').click();
    const task = page.getByTestId('task-panel').locator('li').first();
    await expect(task).toHaveAttribute('data-state', 'running', { timeout: 10_000 });
    await task.locator('summary').click();
    await expect(task.locator('summary')).toHaveText(/Log \((5[5-9]|[6-9]\d|\d{3,}) lines\)/, { timeout: 40_000 });
    await expect(task.getByTestId('task-log')).toContainText('drive-scsi0: transferred');
    await expect(task).toHaveAttribute('data-state', 'running');

    // Stop it from the task center.
    await page.getByRole('link', { name: 'Tasks', exact: true }).click();
    await page.getByTestId('task-type').selectOption('qmigrate');
    await page.getByTestId('task-outcome').selectOption('running');
    await page.getByTestId('task-vmid').fill(vmid);
    const row = page.locator('[data-testid="task-table"] tbody tr').first();
    await row.getByTestId('task-open').click();
    await page.getByTestId('task-stop').click();
    await expect(page.getByTestId('task-stop-confirm')).toContainText('Stop this task?');
    await page.getByTestId('task-stop-yes').click();
    await expect(page.getByTestId('task-stop-sent')).toBeVisible();
    await expect(page.getByTestId('task-log-full')).toHaveAttribute('data-ended', 'true', { timeout: 20_000 });
    await expect(task).toHaveAttribute('data-state', 'failed', { timeout: 20_000 });

    // The VM stayed where it was.
    await page.goto(`/vms/demo/${node}/${vmid}`);
    await expect(page.locator('main')).toContainText(`on ${node}`);
    await expect(page).toHaveURL(new RegExp(`/vms/demo/${node}/${vmid}$`));
  } finally {
    await simFault(request, {});
  }
});
