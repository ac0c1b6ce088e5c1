// Every page hydrates: the browser's first render matches the server's HTML. A mismatch (say a
// signal set while rendering, so the server and the browser render different branches) panics
// the WASM app and leaves a dead page, which a spec that only reads the page can miss.
// Run: cd end2end && npx playwright test hydration.spec.ts
import { test, expect, Page } from '@playwright/test';
import { ADMIN_PASSWORD, login, waitForHydration } from './helpers';

/** The browser's errors while `path` loads fresh and hydrates. */
async function hydrationErrors(page: Page, path: string): Promise<string[]> {
  const errors: string[] = [];
  const onConsole = (m: { type(): string; text(): string }) => {
    if (m.type() === 'error' && /hydrat|panicked|RuntimeError|unreachable/i.test(m.text())) {
      errors.push(m.text().split('\n')[0]);
    }
  };
  const onPageError = (e: Error) => errors.push(e.message);
  page.on('console', onConsole);
  page.on('pageerror', onPageError);
  await page.goto(path);
  try {
    await page.waitForFunction(() => (window as any).__cecyber_hydrated === true, null, { timeout: 15_000 });
  } catch {
    errors.push('never hydrated');
  }
  page.off('console', onConsole);
  page.off('pageerror', onPageError);
  return errors;
}

test('every page of the panel hydrates without an error', async ({ page }) => {
  test.setTimeout(180_000);
  await login(page, 'admin', ADMIN_PASSWORD);
  await waitForHydration(page);
  const running = page.locator('tbody tr[data-kind="qemu"][data-status="running"]').first();
  const stopped = page.locator('tbody tr[data-kind="qemu"][data-status="stopped"]').first();
  const vmPath = async (row: typeof running) =>
    `/vms/demo/${await row.getByTestId('vm-node').textContent()}/${await row.getAttribute('data-vmid')}`;
  const paths = [
    '/',
    '/?status=running&sort=name&dir=desc',
    '/?q=no-such-guest',
    await vmPath(running),
    await vmPath(stopped),
    '/vms/demo/pve1/99999',
    '/dashboard',
    '/nodes',
    '/nodes/demo/pve1',
    '/nodes/demo/no-such-node',
    '/tasks',
    '/schedules',
    '/alerts',
    '/users',
    '/embed-links',
    '/wall-links',
    '/no-such-page',
  ];
  // Twice each: whether the server resolved a resource before or after the HTML around it was
  // sent varies with timing, and the second load finds warm caches.
  const found: string[] = [];
  for (const path of paths) {
    for (let load = 0; load < 2; load++) {
      for (const error of await hydrationErrors(page, path)) {
        found.push(`${path}: ${error}`);
      }
    }
  }
  expect(found).toEqual([]);
});
