// Real-browser end-to-end check of the acceptance path: log in, connect the
// `test-oauth` connector through the OAuth server's own login and consent pages, land on
// /settings with the new connection shown, then press the row's HTMX "Test" button.
//
// Run by tests/api/browser.rs (which starts the app and the OAuth server); see README.md.
// The shared harness (launch, login, logging, screenshots, exit codes) is harness.mjs.
// Env: APP_URL, EMAIL, PASSWORD, PROVIDER_LOGIN (default alice), SCREENSHOT_DIR (optional),
// CHROMIUM (default /usr/bin/chromium). Exits 0 on success, 1 with a message on any failure.
import {
  APP_ORIGIN, APP_URL, env, fail, launch, log, logIn, newPage, run, screenshot, signInAtProvider,
  squash,
} from './harness.mjs';

const EMAIL = env('EMAIL');
const PASSWORD = env('PASSWORD');
const PROVIDER_LOGIN = env('PROVIDER_LOGIN', 'alice');
const IDENTITY = `${PROVIDER_LOGIN}@campus.test`; // what the test server's userinfo says

async function steps() {
  await launch();
  // Console errors count on the app's pages only: the provider's pages ask for a font and a
  // favicon that the closed network refuses.
  const page = await newPage({ appOnly: true });

  // 1. Log in.
  await logIn(page, EMAIL, PASSWORD);

  const session = (await page.context().cookies(APP_URL)).find((c) => c.name === 'campuscore_session');
  if (!session) fail('no campuscore_session cookie after login');
  // The provider here is same-site (127.0.0.1, another port); a real one is cross-site, where
  // a SameSite=Strict session would not come back on the callback redirect.
  log(`session cookie: SameSite=${session.sameSite}, HttpOnly=${session.httpOnly}`);
  if (session.sameSite === 'Strict') fail('session cookie is SameSite=Strict: the OAuth callback from a real provider would arrive logged out');

  // 2. Settings: the Test OAuth card's Connect link.
  await page.goto(`${APP_URL}/settings`);
  const card = page.locator('#connector-test-oauth');
  if ((await card.count()) !== 1) {
    fail(`no #connector-test-oauth card on /settings; cards: ${JSON.stringify(
      await page.locator('li.connector').evaluateAll((els) => els.map((e) => e.id)),
    )}`);
  }
  const connect = card.getByRole('link', { name: 'Connect', exact: true });
  if ((await connect.count()) !== 1) {
    fail(`the Test OAuth card has no Connect link: ${JSON.stringify(await card.innerText())}`);
  }
  log('clicking Connect on the Test OAuth card');
  await Promise.all([
    page.waitForURL((u) => u.origin !== APP_ORIGIN),
    connect.click(),
  ]);
  log(`at the provider: ${page.url()}`);

  // 3. The provider's login and consent pages (oidc-provider devInteractions).
  await signInAtProvider(page, PROVIDER_LOGIN);

  // 5. Back on the app's settings page, with the flash and the new connection row.
  await page.waitForURL(`${APP_URL}/settings`).catch(() => {
    fail(`did not land on ${APP_URL}/settings but on ${page.url()}`);
  });
  await page.waitForLoadState('load');
  log(`back at ${page.url()}`);
  const flash = (await page.locator('#flash').innerText()).trim();
  if (!flash.includes(`Connected as ${IDENTITY}`)) {
    fail(`flash should say "Connected as ${IDENTITY}", it says ${JSON.stringify(flash)}`);
  }
  const rows = page.locator('tr.connection-row');
  const rowTexts = await rows.allInnerTexts();
  const row = rows.filter({ hasText: 'Test OAuth' });
  if ((await row.count()) !== 1) {
    fail(`expected one "Test OAuth" row in My connections, rows: ${JSON.stringify(rowTexts)}`);
  }
  const rowText = await row.innerText();
  for (const want of ['Test OAuth', IDENTITY, 'active']) {
    if (!rowText.includes(want)) fail(`the connection row lacks ${JSON.stringify(want)}: ${JSON.stringify(rowText)}`);
  }
  log(`connection row: ${JSON.stringify(squash(rowText))}`);
  await screenshot('connected.png');

  // 6. HTMX in a real browser: "Test" posts and swaps the row in place.
  const rowId = await row.getAttribute('id');
  if (!rowId) fail('the connection row has no id (hx-target needs it)');
  const htmxLoaded = await page.evaluate(() => typeof window.htmx === 'object' && window.htmx.version);
  if (!htmxLoaded) fail('htmx did not load on /settings (window.htmx is missing)');
  log(`htmx ${htmxLoaded}; clicking Test on #${rowId}`);
  const testResponse = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/test'));
  await row.getByRole('button', { name: 'Test', exact: true }).click();
  const res = await testResponse;
  if (res.status() !== 200) fail(`POST ${res.url()} answered ${res.status()}`);
  const swapped = page.locator(`#${rowId}`);
  await swapped.filter({ hasText: 'Connection works.' }).waitFor({ state: 'visible' }).catch(async () => {
    fail(`row #${rowId} did not show "Connection works.": ${JSON.stringify(await swapped.innerText().catch(() => '(gone)'))}`);
  });
  if (new URL(page.url()).pathname !== '/settings') fail(`Test navigated away to ${page.url()}`);
  const htmxErrors = (await page.locator('#htmx-errors').innerText()).trim();
  if (htmxErrors) fail(`#htmx-errors shows ${JSON.stringify(htmxErrors)}`);
  log('row says "Connection works."');
  await screenshot('tested.png');
}

await run(steps);
