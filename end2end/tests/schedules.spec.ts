// Scheduled power actions through the panel: a schedule made in the form (its next runs shown
// as the calendar is typed, a bad calendar refused with PVE's reason), a shutdown scheduled for
// the next minute that stops the VM at that minute, and "run now" (confirmed) that starts it
// again — each run recorded with what became of the VM. A viewer sees no form and no buttons.
// Run: cd end2end && npx playwright test schedules.spec.ts
import { test, expect, Page } from '@playwright/test';
import { ADMIN_PASSWORD, login, waitForHydration } from './helpers';

const vmRow = (page: Page, vmid: string) => page.locator(`[data-testid="vm-table"] tbody tr[data-vmid="${vmid}"]`);

/** `HH:MM` (UTC) of the first whole minute at least 20 s away, and that minute as a Date. */
function nextMinute(): { hhmm: string; at: Date } {
  const at = new Date(Date.now() + 20_000);
  at.setUTCSeconds(0, 0);
  at.setUTCMinutes(at.getUTCMinutes() + 1);
  const pad = (n: number) => String(n).padStart(2, '0');
  return { hhmm: `${pad(at.getUTCHours())}:${pad(at.getUTCMinutes())}`, at };
}

async function fillForm(page: Page, fields: { name: string; action: string; target: string; calendar: string }) {
  const form = page.getByTestId('schedule-form');
  await form.getByLabel('Name').fill(fields.name);
  await form.getByLabel('Action').selectOption(fields.action);
  await form.getByLabel('Guests by').selectOption('vms');
  await form.getByLabel('Guests', { exact: true }).fill(fields.target);
  await form.getByLabel('Time zone').fill('UTC');
  await form.getByLabel('When').fill(fields.calendar);
}

test('a shutdown scheduled for the next minute stops the VM then; run now starts it again', async ({ page }) => {
  test.setTimeout(180_000);
  await login(page, 'admin', ADMIN_PASSWORD);
  await waitForHydration(page);
  const running = await page
    .locator('[data-testid="vm-table"] tbody tr[data-status="running"][data-kind="qemu"]')
    .evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-vmid')!));
  expect(running.length).toBeGreaterThan(0);
  const vmid = running[running.length - 1];

  await page.goto('/schedules');
  await waitForHydration(page);
  await expect(page.getByTestId('no-schedules')).toBeVisible();

  // The preview follows the calendar as it is typed; a bad one gets PVE's reason.
  const preview = page.getByTestId('schedule-preview');
  await fillForm(page, { name: 'nightly', action: 'shutdown', target: vmid, calendar: 'mon..fri 12:60' });
  await expect(preview).toContainText('invalid calendar event');
  await page.getByTestId('schedule-form').getByLabel('When').fill('sat,sun 22:00');
  await expect(preview.locator('li')).toHaveCount(5);
  for (const item of await preview.locator('li').allTextContents()) expect(item).toMatch(/^(Sat|Sun) .* 22:00 UTC$/);

  // Saved for the next minute: the list shows it with that next run.
  const { hhmm, at } = nextMinute();
  await page.getByTestId('schedule-form').getByLabel('When').fill(hhmm);
  await page.getByTestId('schedule-form').getByRole('button', { name: 'Save schedule' }).click();
  const row = page.locator('[data-testid="schedules"] tr[data-schedule="nightly"]');
  await expect(row).toBeVisible();
  await expect(row.getByTestId('schedule-next')).toContainText(`${hhmm} UTC`);
  await expect(row.getByTestId('schedule-last')).toHaveText('never');

  // At that minute the scheduler shuts the VM down, and the run is recorded.
  const runs = page.getByTestId('schedule-runs');
  await expect(runs.locator('[data-testid="schedule-run"][data-status="ok"]')).toHaveCount(1, { timeout: 120_000 });
  expect(Date.now()).toBeGreaterThanOrEqual(at.getTime());
  await expect(runs.locator(`li[data-vmid="${vmid}"]`)).toContainText('ok: OK');
  await expect(row.getByTestId('schedule-last')).toContainText(`ok — `);
  await page.goto(`/?q=${vmid}`);
  await waitForHydration(page);
  await expect(vmRow(page, vmid)).toHaveAttribute('data-status', 'stopped');

  // Run now (confirmed) with a start schedule brings it back.
  await page.goto('/schedules');
  await waitForHydration(page);
  await fillForm(page, { name: 'morning', action: 'start', target: vmid, calendar: 'mon..fri 07:30' });
  await page.getByTestId('schedule-form').getByRole('button', { name: 'Save schedule' }).click();
  const morning = page.locator('[data-testid="schedules"] tr[data-schedule="morning"]');
  await morning.getByTestId('schedule-run-now').click();
  const confirm = page.getByTestId('schedule-confirm');
  await expect(confirm).toContainText('Run schedule morning now?');
  await confirm.getByTestId('schedule-confirm-yes').click();
  await morning.getByRole('button', { name: 'Runs' }).click();
  await expect(page.getByRole('heading', { name: 'Runs of morning' })).toBeVisible();
  await expect(runs.locator('[data-testid="schedule-run"][data-status="ok"]')).toHaveCount(1, { timeout: 60_000 });
  await expect(runs).toContainText('run now by admin');
  await page.goto(`/?q=${vmid}`);
  await waitForHydration(page);
  await expect(vmRow(page, vmid)).toHaveAttribute('data-status', 'running', { timeout: 30_000 });

  // Deleting is confirmed too.
  await page.goto('/schedules');
  await waitForHydration(page);
  for (const name of ['nightly', 'morning']) {
    await page.locator(`[data-testid="schedules"] tr[data-schedule="${name}"]`).getByRole('button', { name: 'Delete' }).click();
    await expect(page.getByTestId('schedule-confirm')).toContainText(`Delete schedule ${name}?`);
    await page.getByTestId('schedule-confirm-yes').click();
    await expect(page.locator(`[data-testid="schedules"] tr[data-schedule="${name}"]`)).toHaveCount(0);
  }
});

test('a viewer sees the schedules page without the form or the buttons', async ({ page }) => {
  await login(page, 'admin', ADMIN_PASSWORD);
  const create = await page.request.post('/api/users_create', {
    form: { username: 'sched-viewer', password: 'viewer-password-1', role: 'viewer' },
  });
  expect([200, 400, 409]).toContain(create.status());
  await page.context().clearCookies();
  await login(page, 'sched-viewer', 'viewer-password-1');
  await page.goto('/schedules');
  await waitForHydration(page);
  await expect(page.getByRole('heading', { name: 'Schedules' })).toBeVisible();
  await expect(page.getByTestId('schedule-form')).toHaveCount(0);
  await expect(page.getByTestId('schedule-run-now')).toHaveCount(0);
  const refused = await page.request.post('/api/schedule_save', {
    form: {
      'form[id]': '0', 'form[name]': 'x', 'form[cluster]': 'demo', 'form[action]': 'stop',
      'form[target_kind]': 'vms', 'form[target]': '100', 'form[calendar]': 'daily',
      'form[timezone]': 'UTC', 'form[grace_minutes]': '5', 'form[enabled]': 'true',
    },
  });
  expect(refused.status()).toBe(403);
});
