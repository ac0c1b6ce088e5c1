// Restarts lose nothing a browser needs: with the dashboard and a console open, the server is
// killed with `kill -9` and started again on the same database; both pages come back by
// themselves — the live stream reconnects, the console reconnects, the session still holds —
// and no page panics. This spec runs its own server (port 3500), as it kills it.
// Run: cd end2end && npx playwright test restart.spec.ts
import { test, expect, Page } from '@playwright/test';
import { spawn, ChildProcess } from 'node:child_process';
import path from 'node:path';
import { ADMIN_PASSWORD, login, waitForHydration } from './helpers';

const PORT = 3500;
const BASE = `http://127.0.0.1:${PORT}`;
test.use({ baseURL: BASE });

/** Starts `start-server.sh PORT`; `keep` keeps the database of the previous start. */
function startServer(keep: boolean): ChildProcess {
  return spawn('./start-server.sh', [String(PORT)], {
    cwd: path.join(__dirname, '..'),
    env: { ...process.env, CECYBER_E2E_KEEP: keep ? '1' : '' },
    stdio: 'ignore',
  });
}

async function waitHealthy() {
  await expect
    .poll(async () => {
      try {
        return (await fetch(`${BASE}/healthz`)).status;
      } catch {
        return 0;
      }
    }, { timeout: 60_000 })
    .toBe(200);
}

function watchForPanics(page: Page, problems: string[]) {
  page.on('pageerror', (e) => problems.push(`uncaught ${e.name}: ${e.message}`));
  page.on('console', (m) => {
    if (/panicked|RuntimeError/i.test(m.text())) problems.push(`console: ${m.text()}`);
  });
}

let server: ChildProcess | undefined;

test.afterAll(() => {
  server?.kill('SIGKILL');
});

test('after kill -9 and a restart, the dashboard and the console come back by themselves', async ({ page: dashboard, context }) => {
  test.setTimeout(150_000);
  server = startServer(false);
  await waitHealthy();
  const problems: string[] = [];
  watchForPanics(dashboard, problems);
  await login(dashboard, 'admin', ADMIN_PASSWORD);
  const consoleHref = await dashboard.locator('a[data-action="console"]').first().getAttribute('href');
  await dashboard.goto('/dashboard');
  await waitForHydration(dashboard);
  const live = dashboard.getByTestId('live-status');
  await expect(live).toHaveAttribute('data-connected', 'true');

  const screen = await context.newPage();
  watchForPanics(screen, problems);
  await screen.goto(consoleHref!);
  await waitForHydration(screen);
  const consoleStatus = screen.getByTestId('console-status');
  await expect(consoleStatus).toHaveAttribute('data-state', 'connected');

  // kill -9: no chance to close anything. start-server.sh execs the server, so this is its pid.
  server.kill('SIGKILL');
  await expect(live).toHaveAttribute('data-connected', 'false', { timeout: 30_000 });
  await expect(consoleStatus).not.toHaveAttribute('data-state', 'connected', { timeout: 30_000 });

  const restartedAt = Math.floor(Date.now() / 1000);
  server = startServer(true);
  await waitHealthy();
  // Both reconnect on their own (no reload), with the session from before the kill.
  await expect(live).toHaveAttribute('data-connected', 'true', { timeout: 60_000 });
  await expect(consoleStatus).toHaveAttribute('data-state', 'connected', { timeout: 60_000 });
  // The live charts go on with points polled after the restart.
  const cpu = dashboard.locator('#chart-cpu');
  await expect
    .poll(async () => Number(await cpu.getAttribute('data-last-t')), { timeout: 30_000 })
    .toBeGreaterThanOrEqual(restartedAt);
  // A full load still finds the session valid: no trip through the login page.
  await dashboard.reload();
  await expect(dashboard).toHaveURL(/\/dashboard$/);
  await expect(dashboard.getByTestId('current-user')).toHaveText('admin');
  expect(problems).toEqual([]);
});
