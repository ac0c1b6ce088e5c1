// The console through the whole chain to a real QEMU VM: noVNC → our relay → the simulated
// PVE's vncwebsocket → QEMU's own VNC server (password set over QMP, as PVE does). Uses the
// second test server, whose simulated VMs run as tiny QEMU VMs (start-server.sh PORT qemu).
// Run: cd end2end && npx playwright test qemu.spec.ts
import { test, expect } from '@playwright/test';
import { ADMIN_PASSWORD, BASE_URL, login, waitForHydration } from './helpers';

const QEMU_URL = `http://127.0.0.1:${Number(new URL(BASE_URL).port) + 100}`;

test.skip(!!process.env.CECYBER_BASE_URL, 'needs the QEMU test server started by playwright.config.ts');

test('the console shows the QEMU VM boot screen', async ({ page }) => {
  await page.goto(`${QEMU_URL}/login`);
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByTestId('vm-table')).toBeVisible();
  const row = page.locator('tbody tr[data-kind="qemu"][data-status="running"]').first();
  const vmid = (await row.getAttribute('data-vmid'))!;
  const node = (await row.getByTestId('vm-node').innerText()).trim();
  await page.goto(`${QEMU_URL}/vms/demo/${node}/${vmid}/console`);
  await waitForHydration(page);
  await expect(page.getByTestId('console-status')).toHaveAttribute('data-state', 'connected', { timeout: 30_000 });
  // QEMU names its VNC desktop after the VM.
  await expect(page.getByTestId('console-status')).toContainText('Connected to');
  // The booted text screen: a dark background with text on it (more than one colour), in
  // QEMU's 720×400 text mode rather than the built-in console's 640×400.
  const canvas = page.locator('[data-testid="console-screen"] canvas');
  await expect.poll(() => canvas.evaluate((c: HTMLCanvasElement) => `${c.width}x${c.height}`), { timeout: 30_000 }).toBe('720x400');
  await expect
    .poll(() =>
      canvas.evaluate((c: HTMLCanvasElement) => {
        const { data } = c.getContext('2d')!.getImageData(0, 0, c.width, c.height);
        const seen = new Set<number>();
        for (let i = 0; i < data.length; i += 4 * 13) seen.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
        return seen.size;
      }),
    )
    .toBeGreaterThan(1);
  await page.locator('[data-testid="console-screen"]').screenshot({ path: 'test-results/qemu-console.png' });
});
