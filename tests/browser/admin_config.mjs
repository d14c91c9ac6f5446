// Real-browser check of the admin pages (issue 6): an administrator sets a connector's
// client id and secret on /admin/connectors/{slug}/config, enables the connector with the
// HTMX switch on /admin/connectors/, and a user then sees it, ready to connect, on /settings.
// The secret is never shown again: the page shows only its mask, and the input stays empty.
//
// Run by tests/api/browser.rs (which starts the app with the connector disabled).
// The shared harness (launch, login, logging, screenshots, exit codes) is harness.mjs.
// Env: APP_URL, ADMIN_EMAIL, USER_EMAIL, PASSWORD, SLUG, CLIENT_ID, CLIENT_SECRET,
// SCREENSHOT_DIR (optional), CHROMIUM (default /usr/bin/chromium).
// Exits 0 on success, 1 with a message on any failure.
import { APP_URL, env, fail, launch, log, logIn, newPage, run, screenshot } from './harness.mjs';

const ADMIN_EMAIL = env('ADMIN_EMAIL');
const USER_EMAIL = env('USER_EMAIL');
const PASSWORD = env('PASSWORD');
const SLUG = env('SLUG', 'test-oauth');
const CLIENT_ID = env('CLIENT_ID');
const CLIENT_SECRET = env('CLIENT_SECRET');

/** A fresh browser context (its own cookies) with error watchers, logged in as `email`. */
const loggedIn = async (email, who) => logIn(await newPage({ who }), email, PASSWORD, who);

async function steps() {
  await launch();

  // 1. The admin sets the client id and secret.
  const admin = await loggedIn(ADMIN_EMAIL, 'admin');
  const configUrl = `${APP_URL}/admin/connectors/${SLUG}/config`;
  await admin.goto(configUrl);
  const idInput = admin.locator('input[name="value_CLIENT_ID"]');
  const secretInput = admin.locator('input[name="value_CLIENT_SECRET"]');
  if ((await idInput.count()) !== 1 || (await secretInput.count()) !== 1) {
    fail(`no CLIENT_ID / CLIENT_SECRET inputs on ${configUrl}: ${(await admin.content()).slice(0, 2000)}`);
  }
  if ((await secretInput.getAttribute('type')) !== 'password') fail('the secret input is not a password input');
  await idInput.fill(CLIENT_ID);
  await secretInput.fill(CLIENT_SECRET);
  await screenshot('config-filled.png', admin);
  await Promise.all([
    admin.waitForNavigation({ waitUntil: 'load' }),
    admin.getByRole('button', { name: 'Save configuration' }).click(),
  ]);
  const flash = (await admin.locator('#flash').innerText()).trim();
  if (!flash.includes('Saved') || !flash.includes('CLIENT_SECRET')) fail(`no "Saved … CLIENT_SECRET" message: ${JSON.stringify(flash)}`);
  log(`saved: ${JSON.stringify(flash)}`);
  const html = await admin.content();
  if (html.includes(CLIENT_SECRET)) fail('the config page shows the secret after saving');
  const mask = `••••${CLIENT_SECRET.slice(-4)}`;
  const stored = await admin.locator('#config-CLIENT_SECRET code.stored').innerText().catch(() => '');
  if (stored !== mask) fail(`the secret should be shown as ${mask}, it is ${JSON.stringify(stored)}`);
  if ((await secretInput.inputValue()) !== '') fail('the secret input is not empty after saving');
  if ((await idInput.inputValue()) !== CLIENT_ID) fail(`CLIENT_ID shows ${JSON.stringify(await idInput.inputValue())}`);
  await screenshot('config-saved.png', admin);

  // 2. The admin enables the connector with the HTMX switch.
  await admin.goto(`${APP_URL}/admin/connectors/`);
  const htmxVersion = await admin.evaluate(() => typeof window.htmx === 'object' && window.htmx.version);
  if (!htmxVersion) fail('htmx did not load on /admin/connectors/');
  const row = admin.locator(`#connector-${SLUG}`);
  const rowText = (await row.innerText()).replace(/\s+/g, ' ');
  if (!rowText.includes('complete')) fail(`the ${SLUG} row should say its configuration is complete: ${JSON.stringify(rowText)}`);
  if (!rowText.includes('disabled')) fail(`the ${SLUG} row should start disabled: ${JSON.stringify(rowText)}`);
  const toggled = admin.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith(`/admin/connectors/${SLUG}/enabled`));
  log(`htmx ${htmxVersion}; clicking Enable on #connector-${SLUG}`);
  await row.getByRole('button', { name: 'Enable', exact: true }).click();
  const res = await toggled;
  if (res.status() !== 200) fail(`POST ${res.url()} answered ${res.status()}`);
  const sw = admin.locator(`#switch-${SLUG}`);
  await sw.filter({ hasText: 'is enabled' }).waitFor({ state: 'visible' }).catch(async () => {
    fail(`the switch did not say the connector is enabled: ${JSON.stringify(await sw.innerText().catch(() => '(gone)'))}`);
  });
  if ((await sw.getByRole('button', { name: 'Disable', exact: true }).count()) !== 1) fail('the switch offers no Disable button after enabling');
  if (new URL(admin.url()).pathname !== '/admin/connectors/') fail(`the switch navigated away to ${admin.url()}`);
  const htmxErrors = (await admin.locator('#htmx-errors').innerText()).trim();
  if (htmxErrors) fail(`#htmx-errors shows ${JSON.stringify(htmxErrors)}`);
  log('switch says enabled');
  await screenshot('enabled.png', admin);

  // 3. A user sees it on /settings, ready to connect.
  const user = await loggedIn(USER_EMAIL, 'user');
  await user.goto(`${APP_URL}/settings`);
  const card = user.locator(`#connector-${SLUG}`);
  if ((await card.count()) !== 1) {
    fail(`no #connector-${SLUG} card on /settings; cards: ${JSON.stringify(
      await user.locator('li.connector').evaluateAll((els) => els.map((e) => e.id)),
    )}`);
  }
  const connect = card.getByRole('link', { name: 'Connect', exact: true });
  if ((await connect.count()) !== 1) fail(`the card has no Connect link: ${JSON.stringify(await card.innerText())}`);
  const href = await connect.getAttribute('href');
  if (href !== `/api/connectors/connect/${SLUG}/start`) fail(`the Connect link points at ${href}`);
  if ((await user.content()).includes(CLIENT_SECRET)) fail('the settings page shows the secret');
  log(`user sees ${SLUG} with a Connect link`);
  await screenshot('settings.png', user);
}

await run(steps);
