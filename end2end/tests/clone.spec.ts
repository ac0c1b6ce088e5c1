// Cloning from the VM page: a taken id refused, then the clone made (into a pool) and opened.
// Run: cd end2end && npx playwright test clone.spec.ts
import { test, expect } from '@playwright/test';
import { ADMIN_PASSWORD, login, waitForHydration } from './helpers';

test('an operator clones a VM with the next free id; the clone appears in the list', async ({ page }) => {
  test.setTimeout(120_000);
  await login(page, 'admin', ADMIN_PASSWORD);
  await waitForHydration(page);
  const source = page.locator('tbody tr[data-kind="qemu"][data-status="stopped"]:has(button[data-action="start"])').first();
  const vmid = await source.getAttribute('data-vmid');
  await source.locator('a').first().click();
  await expect(page.getByTestId('detail-status')).toBeVisible();
  await page.getByTestId('clone-open').click();
  const dialog = page.getByTestId('clone-dialog');
  const offered = await dialog.getByTestId('clone-newid').inputValue();
  expect(Number(offered)).toBeGreaterThanOrEqual(100);

  // A taken id is refused at once, and the form keeps what was typed.
  await dialog.getByTestId('clone-newid').fill(vmid!);
  await dialog.getByTestId('clone-go').click();
  await expect(dialog.getByRole('alert')).toContainText(`VM id ${vmid} is taken`);
  await expect(dialog.getByTestId('clone-newid')).toHaveValue(vmid!);

  await dialog.getByTestId('clone-newid').fill(offered);
  await dialog.getByTestId('clone-name').fill(`e2e-clone-copy`);
  // Into a pool of PVE's (the simulator has production, development, …).
  await dialog.getByTestId('clone-pool').selectOption('development');
  await dialog.getByTestId('clone-go').click();
  const task = page.getByTestId('task-panel').locator('li').first();
  await expect(task).toContainText(`Clone VM ${vmid} to ${offered}`);
  await expect(task).toHaveAttribute('data-state', 'ok', { timeout: 60_000 });
  await expect(page).toHaveURL(new RegExp(`/vms/demo/[^/]+/${offered}$`));
  await expect(page.getByRole('heading', { level: 1 })).toContainText(`VM ${offered} — e2e-clone-copy`);

  await page.getByRole('link', { name: 'Virtual machines', exact: true }).click();
  const row = page.locator(`tbody tr[data-vmid="${offered}"]`);
  await expect(row).toContainText(`e2e-clone-copy`);
  await expect(row.getByTestId('vm-pool')).toHaveText('development');
});
