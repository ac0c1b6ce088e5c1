// The hardware panel: a change that waits for the reboot, the reboot that applies it, a disk
// that grows. Run: cd end2end && npx playwright test hardware.spec.ts
import { test, expect } from '@playwright/test';
import { ADMIN_PASSWORD, login, waitForHydration } from './helpers';

test('a running VM takes its name at once and its cores at the reboot; a disk grows', async ({ page }) => {
  test.setTimeout(120_000);
  await login(page, 'admin', ADMIN_PASSWORD);
  await waitForHydration(page);
  // Not a VM another spec finds by its name (migrate.spec.ts): this one is renamed.
  const running = page
    .locator('tbody tr[data-kind="qemu"][data-status="running"]')
    .filter({ hasNot: page.getByRole('link', { name: /^(dns1|db-primary)$/ }) })
    .first();
  const vmid = await running.getAttribute('data-vmid');
  await running.locator('a').first().click();
  await expect(page.getByTestId('detail-status')).toHaveText('running');
  const hw = page.getByTestId('hardware');
  const cores = Number(await hw.getByTestId('hw-cores').inputValue());
  const name = `hw-test-${vmid}`;

  await hw.getByTestId('hw-name').fill(name);
  await hw.getByTestId('hw-cores').fill(String(cores + 1));
  await hw.getByTestId('hw-save').click();
  await expect(hw.getByTestId('hw-outcome')).toHaveText('Applied: name. Waiting for the next start: cores.');
  const pending = hw.getByTestId('hw-pending');
  await expect(pending.locator('tr[data-key="cores"]')).toContainText(String(cores + 1));

  // A bad value is refused with a message, and what was typed stays.
  await hw.getByTestId('hw-memory').fill('8');
  await hw.getByTestId('hw-save').click();
  await expect(hw.getByRole('alert')).toContainText('at least 16 MiB');
  await expect(hw.getByTestId('hw-memory')).toHaveValue('8');
  await hw.getByRole('button', { name: 'Discard edits' }).click();

  // The reboot, confirmed, applies the pending change.
  await pending.getByTestId('hw-reboot').click();
  await pending.getByTestId('hw-reboot-yes').click();
  const task = page.getByTestId('task-panel').locator('li').first();
  await expect(task).toContainText(`Reboot VM ${vmid}`);
  await expect(task).toHaveAttribute('data-state', 'ok', { timeout: 30_000 });
  await expect(hw.getByTestId('hw-pending')).toHaveCount(0, { timeout: 15_000 });
  await expect(hw.getByTestId('hw-cores')).toHaveValue(String(cores + 1));
  await expect(page.getByRole('heading', { level: 1 })).toContainText(name);

  // scsi0 grows by 2 GiB.
  const disk = hw.locator('tr[data-disk="scsi0"]');
  const size = Number((await disk.getByTestId('hw-disk-value').textContent())!.match(/size=(\d+)G/)![1]);
  await disk.getByTestId('hw-grow-by').fill('2');
  await disk.getByTestId('hw-grow').click();
  await expect(disk.getByTestId('hw-grow-confirm')).toContainText('cannot shrink');
  await disk.getByTestId('hw-grow-yes').click();
  await expect(page.getByTestId('task-panel').locator('li').first()).toContainText(`Grow disk scsi0 of VM ${vmid} by 2 GiB`);
  await expect(disk.getByTestId('hw-disk-value')).toContainText(`size=${size + 2}G`, { timeout: 30_000 });
});

test('an operator adds, changes and removes a network device, and adds a disk', async ({ page }) => {
  test.setTimeout(120_000);
  await login(page, 'admin', ADMIN_PASSWORD);
  await waitForHydration(page);
  const stopped = page.locator('tbody tr[data-kind="qemu"][data-status="stopped"]').last();
  await stopped.locator('a').first().click();
  await expect(page.getByTestId('detail-status')).toHaveText('stopped');
  await waitForHydration(page);
  const devices = page.getByTestId('devices');

  // A new NIC: e1000 on vmbr1, VLAN 20; it takes the first free slot.
  await devices.getByTestId('nic-add').click();
  const form = devices.getByTestId('nic-form');
  await form.getByTestId('nic-form-model').selectOption('e1000');
  await form.getByTestId('nic-form-bridge').selectOption('vmbr1');
  await form.getByTestId('nic-form-tag').fill('20');
  await form.getByTestId('nic-form-save').click();
  // The first free slot (net1 on a fresh demo).
  const outcome = devices.getByTestId('device-outcome');
  await expect(outcome).toHaveText(/^Applied: net\d+\.$/);
  const key = (await outcome.getAttribute('data-key'))!;
  const nic = devices.locator(`tr[data-nic="${key}"]`);
  await expect(nic.getByTestId('nic-model')).toHaveText('e1000');
  await expect(nic.getByTestId('nic-bridge')).toHaveText('vmbr1');
  await expect(nic.getByTestId('nic-tag')).toHaveText('20');
  const mac = (await nic.getByTestId('nic-mac').textContent())!;
  expect(mac).toMatch(/^BC:24:11:[0-9A-F:]{8}$/);

  // A tag PVE refuses: the reason shows and what was typed stays.
  await devices.getByTestId('nic-add').click();
  await form.getByTestId('nic-form-tag').fill('5000');
  await form.getByTestId('nic-form-save').click();
  await expect(form.getByRole('alert')).toContainText('VLAN tag: 1 to 4094');
  await expect(form.getByTestId('nic-form-tag')).toHaveValue('5000');
  await form.getByRole('button', { name: 'Cancel' }).click();

  // Untagged and disconnected; the MAC stays.
  await nic.getByTestId('nic-edit').click();
  const edit = devices.getByTestId('nic-form');
  await edit.getByTestId('nic-form-tag').fill('');
  await edit.getByTestId('nic-form-link-down').check();
  await edit.getByTestId('nic-form-save').click();
  await expect(nic.getByTestId('nic-link')).toHaveText('disconnected');
  await expect(nic.getByTestId('nic-tag')).toHaveText('');
  await expect(nic.getByTestId('nic-mac')).toHaveText(mac);

  // Removing asks first and names the device.
  await nic.getByTestId('nic-remove').click();
  await expect(nic.getByTestId('nic-remove-confirm')).toContainText(`Remove ${key} (e1000, vmbr1, ${mac})`);
  await nic.getByTestId('nic-remove-yes').click();
  await expect(outcome).toHaveText(`Applied: ${key}.`);
  await expect(nic).toHaveCount(0);

  // A new 8 GiB disk on the first free SCSI slot.
  await devices.getByTestId('disk-add').click();
  const diskForm = devices.getByTestId('disk-form');
  await expect(diskForm.getByTestId('disk-form-storage')).toHaveValue('local-lvm');
  await diskForm.getByTestId('disk-form-size').fill('8');
  await diskForm.getByTestId('disk-form-add').click();
  await expect(outcome).toHaveText(/^Applied: scsi\d+\.$/);
  const disk = (await outcome.getAttribute('data-key'))!;
  await expect(page.getByTestId('hw-disks').locator(`tr[data-disk="${disk}"]`)).toContainText('size=8G');
});
