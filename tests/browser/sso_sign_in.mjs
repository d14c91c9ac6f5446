// Real-browser walk of campus sign-in (issue 18): the login page offers "Sign in with
// {institution}" first; the button leads to the identity provider's own login and consent
// pages; the browser comes back signed in as the provider's user; logging out sends it on to
// the provider's end-session page (RP-initiated logout).
//
// Run by tests/api/oidc.rs (which starts the app and the OpenID provider); see README.md.
// Env: APP_URL, INSTITUTION, PROVIDER_LOGIN, SCREENSHOT_DIR (optional), CHROMIUM.
import {
  APP_ORIGIN, APP_URL, env, fail, launch, log, newPage, run, screenshot, signInAtProvider,
} from './harness.mjs';

const INSTITUTION = env('INSTITUTION');
const PROVIDER_LOGIN = env('PROVIDER_LOGIN');
const IDENTITY = `${PROVIDER_LOGIN}@campus.test`; // the test provider's email claim

async function steps() {
  await launch();
  // Console errors count on the app's pages only: the provider's pages ask for a font and a
  // favicon that the closed network refuses.
  const page = await newPage({ appOnly: true });

  // 1. The login page: the campus button comes before the password form.
  await page.goto(`${APP_URL}/login`);
  const button = page.getByRole('link', { name: `Sign in with ${INSTITUTION}`, exact: true });
  if ((await button.count()) !== 1) fail(`no "Sign in with ${INSTITUTION}" link on /login`);
  const order = await page.evaluate(() => {
    const sso = document.querySelector('#sso-sign-in');
    const form = document.querySelector('form[action="/login"]');
    return sso && form ? sso.compareDocumentPosition(form) & Node.DOCUMENT_POSITION_FOLLOWING : -1;
  });
  if (!order) fail('the password form comes before the campus button');
  await screenshot('login.png');

  // 2. To the provider.
  await Promise.all([page.waitForURL((u) => u.origin !== APP_ORIGIN), button.click()]);
  log(`at the provider: ${page.url()}`);
  await signInAtProvider(page, PROVIDER_LOGIN);

  // 3. Back on the app, signed in as the provider's user.
  await page.waitForLoadState('load');
  log(`back at ${page.url()}`);
  if (new URL(page.url()).pathname === '/login') {
    fail(`sign-in failed: ${JSON.stringify(await page.locator('.flash-error').allInnerTexts())}`);
  }
  const who = (await page.locator('.who').innerText().catch(() => '')).trim();
  if (who !== IDENTITY) fail(`the top bar should show ${IDENTITY}, it shows ${JSON.stringify(who)}`);
  await screenshot('signed-in.png');

  // 4. Log out: on to the provider's end-session page.
  await Promise.all([
    page.waitForURL((u) => u.origin !== APP_ORIGIN),
    page.getByRole('button', { name: 'Log out' }).click(),
  ]);
  const url = new URL(page.url());
  if (!url.pathname.startsWith('/session/end')) fail(`logging out went to ${page.url()}, not the provider's end-session page`);
  log(`provider end-session page: ${page.url()}`);
  await screenshot('provider-logout.png');
  const res = await page.request.get(`${APP_URL}/settings`, { maxRedirects: 0 });
  if (res.status() !== 303) fail(`after logging out /settings answered ${res.status()}, not a redirect to /login`);
}

await run(steps);
