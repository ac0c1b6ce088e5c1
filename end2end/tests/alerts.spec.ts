// Visual alerts: an admin tightens the VM CPU rule, the simulator is told to push a VM's CPU
// to 100%, the alert shows in the browser, and it clears when the load goes.
// Run: cd end2end && npx playwright test alerts.spec.ts
import { test, expect } from '@playwright/test';
import { ADMIN_PASSWORD, SIM_URL, login, waitForHydration } from './helpers';

test('a VM at 100% CPU raises the alert, and it clears after', async ({ page }) => {
  await login(page, 'admin', ADMIN_PASSWORD);
  const vmid = (await page.locator('tbody tr[data-status="running"]').first().getAttribute('data-vmid'))!;
  await page.getByRole('link', { name: 'Alerts', exact: true }).click();
  await waitForHydration(page);

  // Fire at once instead of after 5 minutes.
  const rule = page.locator('tr[data-rule="vm_cpu"]');
  await rule.locator('input[name="for_secs"]').fill('0');
  await rule.getByRole('button', { name: 'Save' }).click();
  await expect(rule).toContainText('for 0 s');

  const load = (cpu: number | null) =>
    page.request.post(`${SIM_URL}/_sim/vm/${vmid}/load`, { data: { cpu }, ignoreHTTPSErrors: true });
  expect((await load(1.0)).ok()).toBe(true);
  try {
    const badge = page.getByTestId('alert-badge');
    await expect(badge).toBeVisible({ timeout: 20_000 });
    const firing = page.getByTestId('firing-alerts');
    await expect(firing).toContainText(`VM ${vmid}`);
    await expect(firing).toContainText('CPU at 100%');
  } finally {
    expect((await load(null)).ok()).toBe(true);
  }
  await expect(page.getByTestId('alert-badge')).toHaveCount(0, { timeout: 20_000 });
  await expect(page.getByTestId('no-alerts')).toBeVisible();
  await expect(page.getByTestId('alert-history').locator(`tr[data-target="qemu/${vmid}"]`).first()).not.toContainText('firing');
});
