// Visual alerts: an admin tightens the VM CPU rule, the simulator is told to push a VM's CPU
// to 100%, the alert shows in the browser, and it clears when the load goes. A VM that stops
// without a task (the simulator "crashes" it) raises "stopped unexpectedly"; one stopped from the
// panel does not; starting it again clears the alert.
// Run: cd end2end && npx playwright test alerts.spec.ts
import { test, expect } from '@playwright/test';
import { ADMIN_PASSWORD, SIM_URL, login, waitForHydration } from './helpers';

test('a VM at 100% CPU raises the alert, and it clears after', async ({ page }) => {
  await login(page, 'admin', ADMIN_PASSWORD);
  const vmid = (await page.locator('tbody tr[data-kind="qemu"][data-status="running"]').first().getAttribute('data-vmid'))!;
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

test('a VM stopping without a task raises "stopped unexpectedly", a stop from the panel does not', async ({ page }) => {
  await login(page, 'admin', ADMIN_PASSWORD);
  await waitForHydration(page);
  const running = page.locator('tbody tr[data-kind="qemu"][data-status="running"]');
  const crashed = (await running.nth(0).getAttribute('data-vmid'))!;
  const stopped = (await running.nth(1).getAttribute('data-vmid'))!;
  const row = (vmid: string) => page.locator(`tbody tr[data-vmid="${vmid}"]`);
  const tasks = page.getByTestId('task-panel').locator('li');

  // Stopped from the panel: PVE records a qmstop task, which explains it.
  await row(stopped).locator('button[data-action="stop"]').click();
  await page.getByTestId('confirm').click();
  await expect(tasks.first()).toHaveAttribute('data-state', 'ok', { timeout: 30_000 });
  await expect(row(stopped)).toHaveAttribute('data-status', 'stopped');

  // Crashed: QEMU goes away and no task says why.
  const crash = await page.request.post(`${SIM_URL}/_sim/vm/${crashed}/crash`, { ignoreHTTPSErrors: true });
  expect(crash.ok()).toBe(true);

  await page.getByRole('link', { name: 'Alerts', exact: true }).click();
  await waitForHydration(page);
  await expect(page.locator('tr[data-rule="vm_stopped"]')).toContainText('VM stopped unexpectedly');
  const firing = page.getByTestId('firing-alerts');
  await expect(firing.locator(`tr[data-target="qemu/${crashed}"]`)).toContainText(
    `VM ${crashed}`,
    { timeout: 20_000 },
  );
  await expect(firing.locator(`tr[data-target="qemu/${crashed}"]`)).toContainText(
    'stopped unexpectedly: no PVE task stopped it',
  );
  await expect(page.getByTestId('alert-badge')).toBeVisible();
  // The panel's stop ended before the crash, so the poll that saw the crash (or an earlier one)
  // saw that stop too: it raised nothing, not even briefly.
  await expect(firing.locator(`tr[data-target="qemu/${stopped}"]`)).toHaveCount(0);
  const history = page.getByTestId('alert-history');
  await expect(history.locator(`tr[data-target="qemu/${crashed}"]`).first()).toContainText('firing');
  await expect(history.locator(`tr[data-target="qemu/${stopped}"]`)).toHaveCount(0);

  // Both run again (as the other specs expect); the crash alert clears.
  await page.getByRole('link', { name: 'Virtual machines', exact: true }).click();
  await expect(row(crashed)).toHaveAttribute('data-status', 'stopped');
  for (const vmid of [crashed, stopped]) {
    await row(vmid).locator('button[data-action="start"]').click();
    await expect(row(vmid)).toHaveAttribute('data-status', 'running', { timeout: 30_000 });
  }
  await page.getByRole('link', { name: 'Alerts', exact: true }).click();
  await expect(page.getByTestId('firing-alerts').locator(`tr[data-target="qemu/${crashed}"]`)).toHaveCount(0, {
    timeout: 20_000,
  });
  await expect(
    page.getByTestId('alert-history').locator(`tr[data-target="qemu/${crashed}"]`).first(),
  ).not.toContainText('firing');
});
