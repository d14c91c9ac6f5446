// Real-browser check of the Canvas acceptance path: log in, connect Canvas LMS from /settings
// (the fake Canvas of testkit/src/canvas/ approves the sign-in at once and sends the browser
// back to the app's callback), see "Connected as <Name (login)>", open a knowledge folder,
// press "Import from cloud", browse the Canvas connection: the top level lists the user's
// courses (only theirs), a course lists its virtual `Pages` folder first and then its files'
// folders; open a subfolder (breadcrumbs follow), tick two of its files, import them, come
// back to the course through the breadcrumbs, open `Pages`, tick one page, import it, and
// wait until all three rows of the file list say `ready` (the list polls while files are
// pending; the app's queue worker downloads them).
//
// Run by tests/api/browser.rs (which starts the app and the fake Canvas, seeds it and
// configures the connector); the Rust side then checks the stored files and the downloads the
// fake saw. The shared harness (launch, logging, screenshots, exit codes) is harness.mjs.
// Env: APP_URL, EMAIL, PASSWORD, FOLDER_NAME, ACCOUNT (the connection's identity, e.g.
// `Ada Lovelace (alovelace)`), COURSE (the one course the user sees), OTHER_COURSE
// (optional: a course that must not be listed), SUBFOLDER (in COURSE's files), FILE_PICKS
// (JSON list of file names in SUBFOLDER to import), PAGE_PICK (a page's file name, e.g.
// `Lab safety.html`), SERVICE (default Canvas LMS), SCREENSHOT_DIR (optional), CHROMIUM
// (default /usr/bin/chromium). Exits 0 on success, 1 with a message.
import {
  APP_ORIGIN, APP_URL, STEP_TIMEOUT_MS, env, fail, launch, log, newPage, run, screenshot, squash,
} from './harness.mjs';

const EMAIL = env('EMAIL');
const PASSWORD = env('PASSWORD');
const FOLDER_NAME = env('FOLDER_NAME');
const ACCOUNT = env('ACCOUNT');
const COURSE = env('COURSE');
const OTHER_COURSE = process.env.OTHER_COURSE || '';
const SUBFOLDER = env('SUBFOLDER');
const FILE_PICKS = JSON.parse(env('FILE_PICKS'));
const PAGE_PICK = env('PAGE_PICK');
const SERVICE = env('SERVICE', 'Canvas LMS');
const ALL_PICKS = [...(Array.isArray(FILE_PICKS) ? FILE_PICKS : []), PAGE_PICK];
const READY_TIMEOUT_MS = 60_000; // all three downloaded, stored and marked ready

let page; // the one tab, opened by steps()

/** Waits for `locator` to be visible, failing with `what` and the panel's text if it is not. */
async function expectVisible(locator, what, timeout = STEP_TIMEOUT_MS) {
  await locator.first().waitFor({ state: 'visible', timeout }).catch(async () => {
    const panel = await page.locator('#cloud-import').innerText().catch(() => '(gone)');
    fail(`${what} did not appear; #cloud-import says ${JSON.stringify(squash(panel))}`);
  });
}

/** Clicks `target` (an htmx GET or POST) and returns the response to the request it sends. */
async function htmxClick(target, matches, what) {
  const response = page.waitForResponse((r) => matches(r) && r.request().headers()['hx-request'] === 'true');
  await target.click();
  const res = await response;
  log(`${what}: ${res.request().method()} ${new URL(res.url()).pathname} → ${res.status()}`);
  return res;
}

const isBrowse = (r) => r.request().method() === 'GET' && new URL(r.url()).pathname.endsWith('/browse/');
const isImport = (r) => r.request().method() === 'POST' && new URL(r.url()).pathname.endsWith('/import/');

/** The current breadcrumb trail, as the user reads it. */
const crumbs = async () => squash(await page.locator('#cloud-import nav.crumbs').innerText());

/** The names of the folder rows of the current listing (their links' text). */
const folderNames = async () => (await page.locator('#cloud-import tr.cloud-folder a[hx-get]').allInnerTexts()).map(squash);

/** The names of the file rows in the import form (from their checkboxes' labels). */
const fileNames = () => page.locator('#cloud-import-form input[type=checkbox][name=file]')
  .evaluateAll((boxes) => boxes.map((b) => b.getAttribute('aria-label').replace(/^Select /, '')));

/** How many file checkboxes of the import form are ticked, and how many there are. */
const ticked = () => page.locator('#cloud-import-form').evaluate((form) => {
  const boxes = [...form.querySelectorAll('input[type=checkbox][name=file]')];
  return { checked: boxes.filter((b) => b.checked).length, total: boxes.length };
});

/** Opens the folder row named `name` of the current listing; waits for its breadcrumb. */
async function openFolder(name) {
  const link = page.locator('#cloud-import tr.cloud-folder a[hx-get]').filter({ hasText: new RegExp(`^\\s*${escapeRe(name)}\\s*$`) });
  if ((await link.count()) !== 1) fail(`no single folder row "${name}"; folders: ${JSON.stringify(await folderNames())}; crumbs ${JSON.stringify(await crumbs())}`);
  const res = await htmxClick(link, isBrowse, `open ${name}`);
  if (res.status() !== 200) fail(`opening "${name}" answered ${res.status()}`);
  await expectVisible(page.locator('#cloud-import nav.crumbs [aria-current="page"]', { hasText: name }), `the "${name}" breadcrumb`);
}

const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Ticks `names` in the current listing, presses "Import selected" and checks the answer. */
async function importPicks(names, where, shot) {
  if ((await ticked()).checked !== 0) fail(`boxes are ticked on a freshly opened ${where}`);
  for (const name of names) {
    const box = page.getByRole('checkbox', { name: `Select ${name}`, exact: true });
    if ((await box.count()) !== 1) fail(`no checkbox "Select ${name}" in ${where}: ${JSON.stringify(await fileNames())}`);
    if (await box.isDisabled()) fail(`the checkbox of ${name} in ${where} is disabled`);
    await box.check();
  }
  const boxes = await ticked();
  if (boxes.checked !== names.length) fail(`${boxes.checked} boxes are ticked in ${where}, expected ${names.length}`);
  if (boxes.total > names.length) {
    const partly = await page.locator('#cloud-import [data-select-all]').evaluate((b) => b.indeterminate && !b.checked);
    if (!partly) fail(`select-all in ${where} does not show that some files are ticked`);
  }
  await screenshot(`${shot}-ticked.png`);
  const imported = await htmxClick(page.getByRole('button', { name: 'Import selected', exact: true }), isImport, `Import selected (${where})`);
  if (imported.status() !== 202) fail(`the import from ${where} answered ${imported.status()}: ${await imported.text()}`);
  const confirmation = page.locator('#cloud-import .flash-success');
  await expectVisible(confirmation, `the import confirmation for ${where}`);
  const said = squash(await confirmation.innerText());
  const expected = `Importing ${names.length} ${names.length === 1 ? 'file' : 'files'} from ${SERVICE}.`;
  if (!said.includes(expected)) fail(`the confirmation says ${JSON.stringify(said)}, expected ${JSON.stringify(expected)}`);
  const listed = (await page.locator('#cloud-import ul.cloud-imported li').allInnerTexts()).map(squash);
  if (JSON.stringify([...listed].sort()) !== JSON.stringify([...names].sort())) fail(`the confirmation lists ${JSON.stringify(listed)}, expected ${JSON.stringify(names)}`);
  log(`confirmation: ${JSON.stringify(said)} ${JSON.stringify(listed)}`);
  await screenshot(`${shot}-imported.png`);
}

async function steps() {
  if (!Array.isArray(FILE_PICKS) || FILE_PICKS.length === 0) fail('FILE_PICKS must be a non-empty JSON list');
  await launch();
  // The only foreign pages are the fake Canvas's redirects (it renders nothing), so every
  // console error counts (CSP violations, missing icons, 4xx/5xx answers to htmx requests,
  // script errors).
  page = await newPage();
  // The top-level navigations, to show the OAuth round trip went through Canvas.
  const hops = [];
  page.on('request', (req) => {
    if (req.isNavigationRequest() && req.frame() === page.mainFrame()) {
      const u = new URL(req.url());
      hops.push(`${u.origin === APP_ORIGIN ? 'app' : u.origin}${u.pathname}`);
    }
  });

  // 1. Log in.
  await page.goto(`${APP_URL}/login`);
  await page.fill('input[name="email"]', EMAIL);
  await page.fill('input[name="password"]', PASSWORD);
  await Promise.all([
    page.waitForNavigation({ waitUntil: 'load' }),
    page.click('form[action="/login"] button[type="submit"]'),
  ]);
  if (new URL(page.url()).pathname === '/login') {
    const err = await page.locator('.flash-error').allInnerTexts();
    fail(`login as ${EMAIL} failed: still on ${page.url()} ${JSON.stringify(err)}`);
  }
  log(`logged in as ${EMAIL}`);

  // 2. Settings: the Canvas LMS card's Connect link; Canvas approves and sends us back.
  await page.goto(`${APP_URL}/settings`);
  const card = page.locator('#connector-canvas');
  if ((await card.count()) !== 1) {
    fail(`no #connector-canvas card on /settings; cards: ${JSON.stringify(
      await page.locator('li.connector').evaluateAll((els) => els.map((e) => e.id)),
    )}`);
  }
  const cardName = squash(await card.locator('strong').first().innerText());
  if (cardName !== SERVICE) fail(`the Canvas card is named ${JSON.stringify(cardName)}, expected ${JSON.stringify(SERVICE)}`);
  if ((await page.locator('tr.connection-row').count()) !== 0) fail('the user already has connections before connecting');
  const connect = card.getByRole('link', { name: 'Connect', exact: true });
  if ((await connect.count()) !== 1) fail(`the ${SERVICE} card has no Connect link: ${JSON.stringify(squash(await card.innerText()))}`);
  await screenshot('01-settings.png');
  log(`clicking Connect on the ${SERVICE} card`);
  hops.length = 0;
  const callback = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/connectors/canvas/callback');
  await connect.click();
  const cb = await callback.catch(() => fail(`the browser never reached the app's Canvas callback; navigations: ${JSON.stringify(hops)}`));
  if (cb.status() !== 303) fail(`the callback answered ${cb.status()}, expected 303`);
  await page.waitForURL(`${APP_URL}/settings`).catch(() => fail(`did not land on ${APP_URL}/settings but on ${page.url()}`));
  await page.waitForLoadState('load');
  log(`OAuth round trip: ${hops.join(' → ')}`);
  if (!hops.some((h) => !h.startsWith('app') && h.endsWith('/login/oauth2/auth'))) {
    fail(`the browser did not go through Canvas's /login/oauth2/auth: ${JSON.stringify(hops)}`);
  }
  const flash = squash(await page.locator('#flash').innerText());
  if (!flash.includes(`Connected as ${ACCOUNT}`)) fail(`flash should say "Connected as ${ACCOUNT}", it says ${JSON.stringify(flash)}`);
  const rows = page.locator('tr.connection-row');
  const row = rows.filter({ hasText: SERVICE });
  if ((await row.count()) !== 1) fail(`expected one "${SERVICE}" row in My connections: ${JSON.stringify((await rows.allInnerTexts()).map(squash))}`);
  const rowText = squash(await row.innerText());
  for (const want of [SERVICE, ACCOUNT, 'active']) {
    if (!rowText.includes(want)) fail(`the connection row lacks ${JSON.stringify(want)}: ${JSON.stringify(rowText)}`);
  }
  log(`flash ${JSON.stringify(flash)}; connection row ${JSON.stringify(rowText)}`);
  await screenshot('02-connected.png');

  // 3. The knowledge folder, from the list of folders.
  await page.goto(`${APP_URL}/knowledge-folders/`);
  const folderLink = page.locator('ul.folder-list a', { hasText: FOLDER_NAME });
  if ((await folderLink.count()) !== 1) {
    fail(`no link to "${FOLDER_NAME}" on /knowledge-folders/: ${JSON.stringify(await page.locator('ul.folder-list').allInnerTexts())}`);
  }
  await Promise.all([
    page.waitForURL(/\/knowledge-folders\/\d+\/$/),
    folderLink.click(),
  ]);
  await page.waitForLoadState('load');
  const folderPath = new URL(page.url()).pathname;
  const h1 = squash(await page.locator('h1').innerText());
  if (h1 !== FOLDER_NAME) fail(`the folder page's heading is ${JSON.stringify(h1)}`);
  const htmxVersion = await page.evaluate(() => typeof window.htmx === 'object' && window.htmx.version);
  if (!htmxVersion) fail(`htmx did not load on ${folderPath}`);
  if ((await page.locator('#files tbody tr').count()) !== 0) fail('the new folder already lists files');
  log(`at ${folderPath} (htmx ${htmxVersion})`);

  // 4. "Import from cloud": the services, with a Browse button for the new connection.
  const opened = await htmxClick(page.locator('#open-cloud-import'),
    (r) => new URL(r.url()).pathname.endsWith('/cloud-import/'), 'Import from cloud');
  if (opened.status() !== 200) fail(`the service list answered ${opened.status()}`);
  const service = page.locator('#cloud-import li.cloud-service', { has: page.locator('strong', { hasText: SERVICE }) });
  await expectVisible(service, `the ${SERVICE} service`);
  const browseButton = service.getByRole('button', { name: `Browse ${ACCOUNT}`, exact: true });
  if ((await browseButton.count()) !== 1) fail(`${SERVICE} offers no "Browse ${ACCOUNT}": ${JSON.stringify(squash(await service.innerText()))}`);
  await screenshot('03-services.png');

  // 5. Browse: the top level is the user's courses (folders only, so select-all is off).
  const top = await htmxClick(browseButton, isBrowse, `Browse ${ACCOUNT}`);
  if (top.status() !== 200) fail(`browsing answered ${top.status()}`);
  await expectVisible(page.locator('#cloud-import table.cloud-files'), 'the file table');
  const courses = await folderNames();
  log(`top level: ${JSON.stringify(courses)}; crumbs ${JSON.stringify(await crumbs())}`);
  if (OTHER_COURSE && courses.includes(OTHER_COURSE)) fail(`the top level lists "${OTHER_COURSE}", a course the user is not enrolled in`);
  if (JSON.stringify(courses) !== JSON.stringify([COURSE])) fail(`the top level should list just ${JSON.stringify([COURSE])}, it lists ${JSON.stringify(courses)}`);
  if ((await page.locator('#cloud-import tr.cloud-file').count()) !== 0) fail('the top level lists files besides the courses');
  if (!(await page.locator('#cloud-import [data-select-all]').isDisabled())) fail('select-all is enabled on a page without files');
  const topCrumbs = await crumbs();
  if (topCrumbs !== SERVICE) fail(`the top level's breadcrumbs read ${JSON.stringify(topCrumbs)}`);
  await screenshot('04-courses.png');

  // 6. The course: `Pages` first, then the course files' folders.
  await openFolder(COURSE);
  let trail = await crumbs();
  const inCourse = await folderNames();
  log(`${COURSE}: folders ${JSON.stringify(inCourse)}, files ${JSON.stringify(await fileNames())}; crumbs ${JSON.stringify(trail)}`);
  if (trail !== `${SERVICE} / ${COURSE}`) fail(`the course's breadcrumbs read ${JSON.stringify(trail)}`);
  if (inCourse[0] !== 'Pages') fail(`the course's first entry should be "Pages": ${JSON.stringify(inCourse)}`);
  if (!inCourse.includes(SUBFOLDER)) fail(`the course does not list "${SUBFOLDER}": ${JSON.stringify(inCourse)}`);
  await screenshot('05-course.png');

  // 7. The subfolder: breadcrumbs end with it, the course becomes a link; tick two files.
  await openFolder(SUBFOLDER);
  trail = await crumbs();
  if (trail !== `${SERVICE} / ${COURSE} / ${SUBFOLDER}`) fail(`the breadcrumbs read ${JSON.stringify(trail)}`);
  if ((await page.locator('#cloud-import nav.crumbs a', { hasText: COURSE }).count()) !== 1) fail(`"${COURSE}" is not a link in the breadcrumbs`);
  const inside = await fileNames();
  log(`${SUBFOLDER}: ${JSON.stringify(inside)}; crumbs ${JSON.stringify(trail)}`);
  if (inside.length < FILE_PICKS.length + 1) fail(`${SUBFOLDER} should list more files than the ${FILE_PICKS.length} picked: ${JSON.stringify(inside)}`);
  if ((await page.locator('#cloud-import tr.load-more').count()) !== 0) fail(`${SUBFOLDER} offers "Load more" for a few files`);
  await screenshot('06-subfolder.png');
  await importPicks(FILE_PICKS, SUBFOLDER, '07-files');

  // 8. Back to the course: "Import more" returns to the courses; the subfolder again, then
  // its breadcrumb link to the course, and the course's `Pages`.
  const more = await htmxClick(page.locator('#cloud-import').getByRole('button', { name: 'Import more', exact: true }), isBrowse, 'Import more');
  if (more.status() !== 200) fail(`"Import more" answered ${more.status()}`);
  await expectVisible(page.locator('#cloud-import table.cloud-files'), 'the file table after "Import more"');
  await openFolder(COURSE);
  await openFolder(SUBFOLDER);
  const back = await htmxClick(page.locator('#cloud-import nav.crumbs a', { hasText: COURSE }), isBrowse, `breadcrumb ${COURSE}`);
  if (back.status() !== 200) fail(`the "${COURSE}" breadcrumb answered ${back.status()}`);
  await expectVisible(page.locator('#cloud-import nav.crumbs [aria-current="page"]', { hasText: COURSE }), `the "${COURSE}" breadcrumb as the current page`);
  trail = await crumbs();
  if (trail !== `${SERVICE} / ${COURSE}`) fail(`back in the course, the breadcrumbs read ${JSON.stringify(trail)}`);
  await openFolder('Pages');
  trail = await crumbs();
  const pages = await fileNames();
  log(`Pages: ${JSON.stringify(pages)}; crumbs ${JSON.stringify(trail)}`);
  if (trail !== `${SERVICE} / ${COURSE} / Pages`) fail(`the Pages breadcrumbs read ${JSON.stringify(trail)}`);
  if (!pages.includes(PAGE_PICK)) fail(`Pages does not list "${PAGE_PICK}": ${JSON.stringify(pages)}`);
  await screenshot('08-pages.png');
  await importPicks([PAGE_PICK], 'Pages', '09-page');

  // 9. The file list refreshes (files-changed) and polls until all three rows say ready.
  const outcome = await page.waitForFunction((picks) => {
    const seen = (window.__statusesSeen ??= {});
    const rows = [...document.querySelectorAll('#files tbody tr')];
    const status = {};
    for (const row of rows) {
      const name = row.cells[0]?.innerText.trim();
      const badge = row.querySelector('span.status');
      if (!picks.includes(name) || !badge) continue;
      status[name] = badge.innerText.trim();
      const trail = (seen[name] ??= []);
      if (trail.at(-1) !== status[name]) trail.push(status[name]);
    }
    const values = picks.map((p) => status[p]);
    if (values.includes('failed')) return { done: false, rows: rows.map((r) => r.innerText), seen };
    if (values.every((v) => v === 'ready')) return { done: true, rows: rows.map((r) => r.innerText), seen };
    return false;
  }, ALL_PICKS, { timeout: READY_TIMEOUT_MS, polling: 100 }).catch(async () => {
    fail(`the file list did not show ${JSON.stringify(ALL_PICKS)} as ready within ${READY_TIMEOUT_MS / 1000}s: ${JSON.stringify(squash(await page.locator('#files').innerText().catch(() => '(gone)')))}`);
  });
  const result = await outcome.jsonValue();
  log(`statuses seen: ${JSON.stringify(result.seen)}`);
  if (!result.done) fail(`an import failed: ${JSON.stringify(result.rows.map(squash))}`);
  for (const name of ALL_PICKS) {
    const fileRow = page.locator('#files tbody tr', { has: page.locator('td:first-child', { hasText: name }) });
    if ((await fileRow.locator('span.status.status-ready').count()) !== 1) fail(`the row of ${name} has no span.status.status-ready`);
  }
  const rowCount = await page.locator('#files tbody tr').count();
  if (rowCount !== ALL_PICKS.length) fail(`the file list has ${rowCount} rows, expected ${ALL_PICKS.length}`);
  log(`file list: ${JSON.stringify(result.rows.map(squash))}`);
  if (new URL(page.url()).pathname !== folderPath) fail(`the flow navigated away to ${page.url()}`);
  const htmxErrors = squash(await page.locator('#htmx-errors').innerText());
  if (htmxErrors) fail(`#htmx-errors shows ${JSON.stringify(htmxErrors)}`);
  await screenshot('10-ready.png');
}

await run(steps);
