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
// fake saw. The shared harness (launch, login, logging, screenshots, exit codes) is harness.mjs;
// the cloud-import panel's helpers (browsing, ticking, importing, waiting for `ready`) are
// cloud_panel.mjs.
// Env: APP_URL, EMAIL, PASSWORD, FOLDER_NAME, ACCOUNT (the connection's identity, e.g.
// `Ada Lovelace (alovelace)`), COURSE (the one course the user sees), OTHER_COURSE
// (optional: a course that must not be listed), SUBFOLDER (in COURSE's files), FILE_PICKS
// (JSON list of file names in SUBFOLDER to import), PAGE_PICK (a page's file name, e.g.
// `Lab safety.html`), SERVICE (default Canvas LMS), SCREENSHOT_DIR (optional), CHROMIUM
// (default /usr/bin/chromium). Exits 0 on success, 1 with a message.
import {
  APP_ORIGIN, APP_URL, env, fail, launch, log, logIn, newPage, run, screenshot, squash,
} from './harness.mjs';
import {
  browseConnection, crumbs, expectVisible, fileNames, folderNames, htmxClick, importPicks, isBrowse,
  openFolder, openKnowledgeFolder, waitUntilReady,
} from './cloud_panel.mjs';

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

async function steps() {
  if (!Array.isArray(FILE_PICKS) || FILE_PICKS.length === 0) fail('FILE_PICKS must be a non-empty JSON list');
  await launch();
  // The only foreign pages are the fake Canvas's redirects (it renders nothing), so every
  // console error counts (CSP violations, missing icons, 4xx/5xx answers to htmx requests,
  // script errors).
  const page = await newPage();
  // The top-level navigations, to show the OAuth round trip went through Canvas.
  const hops = [];
  page.on('request', (req) => {
    if (req.isNavigationRequest() && req.frame() === page.mainFrame()) {
      const u = new URL(req.url());
      hops.push(`${u.origin === APP_ORIGIN ? 'app' : u.origin}${u.pathname}`);
    }
  });

  // 1. Log in.
  await logIn(page, EMAIL, PASSWORD);

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
  const folderPath = await openKnowledgeFolder(page, FOLDER_NAME);

  // 4. "Import from cloud": the services, with a Browse button for the new connection; browse it.
  // 5. The top level is the user's courses (folders only, so select-all is off).
  await browseConnection(page, { service: SERVICE, account: ACCOUNT, shot: '03-services.png' });
  const courses = await folderNames(page);
  log(`top level: ${JSON.stringify(courses)}; crumbs ${JSON.stringify(await crumbs(page))}`);
  if (OTHER_COURSE && courses.includes(OTHER_COURSE)) fail(`the top level lists "${OTHER_COURSE}", a course the user is not enrolled in`);
  if (JSON.stringify(courses) !== JSON.stringify([COURSE])) fail(`the top level should list just ${JSON.stringify([COURSE])}, it lists ${JSON.stringify(courses)}`);
  if ((await page.locator('#cloud-import tr.cloud-file').count()) !== 0) fail('the top level lists files besides the courses');
  if (!(await page.locator('#cloud-import [data-select-all]').isDisabled())) fail('select-all is enabled on a page without files');
  const topCrumbs = await crumbs(page);
  if (topCrumbs !== SERVICE) fail(`the top level's breadcrumbs read ${JSON.stringify(topCrumbs)}`);
  await screenshot('04-courses.png');

  // 6. The course: `Pages` first, then the course files' folders.
  await openFolder(page, COURSE);
  let trail = await crumbs(page);
  const inCourse = await folderNames(page);
  log(`${COURSE}: folders ${JSON.stringify(inCourse)}, files ${JSON.stringify(await fileNames(page))}; crumbs ${JSON.stringify(trail)}`);
  if (trail !== `${SERVICE} / ${COURSE}`) fail(`the course's breadcrumbs read ${JSON.stringify(trail)}`);
  if (inCourse[0] !== 'Pages') fail(`the course's first entry should be "Pages": ${JSON.stringify(inCourse)}`);
  if (!inCourse.includes(SUBFOLDER)) fail(`the course does not list "${SUBFOLDER}": ${JSON.stringify(inCourse)}`);
  await screenshot('05-course.png');

  // 7. The subfolder: breadcrumbs end with it, the course becomes a link; tick two files.
  await openFolder(page, SUBFOLDER);
  trail = await crumbs(page);
  if (trail !== `${SERVICE} / ${COURSE} / ${SUBFOLDER}`) fail(`the breadcrumbs read ${JSON.stringify(trail)}`);
  if ((await page.locator('#cloud-import nav.crumbs a', { hasText: COURSE }).count()) !== 1) fail(`"${COURSE}" is not a link in the breadcrumbs`);
  const inside = await fileNames(page);
  log(`${SUBFOLDER}: ${JSON.stringify(inside)}; crumbs ${JSON.stringify(trail)}`);
  if (inside.length < FILE_PICKS.length + 1) fail(`${SUBFOLDER} should list more files than the ${FILE_PICKS.length} picked: ${JSON.stringify(inside)}`);
  if ((await page.locator('#cloud-import tr.load-more').count()) !== 0) fail(`${SUBFOLDER} offers "Load more" for a few files`);
  await screenshot('06-subfolder.png');
  await importPicks(page, FILE_PICKS, {
    where: SUBFOLDER, service: SERVICE, shots: { ticked: '07-files-ticked.png', imported: '07-files-imported.png' },
  });

  // 8. Back to the course: "Import more" returns to the courses; the subfolder again, then
  // its breadcrumb link to the course, and the course's `Pages`.
  const more = await htmxClick(page.locator('#cloud-import').getByRole('button', { name: 'Import more', exact: true }), isBrowse, 'Import more');
  if (more.status() !== 200) fail(`"Import more" answered ${more.status()}`);
  await expectVisible(page.locator('#cloud-import table.cloud-files'), 'the file table after "Import more"');
  await openFolder(page, COURSE);
  await openFolder(page, SUBFOLDER);
  const back = await htmxClick(page.locator('#cloud-import nav.crumbs a', { hasText: COURSE }), isBrowse, `breadcrumb ${COURSE}`);
  if (back.status() !== 200) fail(`the "${COURSE}" breadcrumb answered ${back.status()}`);
  await expectVisible(page.locator('#cloud-import nav.crumbs [aria-current="page"]', { hasText: COURSE }), `the "${COURSE}" breadcrumb as the current page`);
  trail = await crumbs(page);
  if (trail !== `${SERVICE} / ${COURSE}`) fail(`back in the course, the breadcrumbs read ${JSON.stringify(trail)}`);
  await openFolder(page, 'Pages');
  trail = await crumbs(page);
  const pages = await fileNames(page);
  log(`Pages: ${JSON.stringify(pages)}; crumbs ${JSON.stringify(trail)}`);
  if (trail !== `${SERVICE} / ${COURSE} / Pages`) fail(`the Pages breadcrumbs read ${JSON.stringify(trail)}`);
  if (!pages.includes(PAGE_PICK)) fail(`Pages does not list "${PAGE_PICK}": ${JSON.stringify(pages)}`);
  await screenshot('08-pages.png');
  await importPicks(page, [PAGE_PICK], {
    where: 'Pages', service: SERVICE, shots: { ticked: '09-page-ticked.png', imported: '09-page-imported.png' },
  });

  // 9. The file list refreshes (files-changed) and polls until all three rows say ready.
  await waitUntilReady(page, ALL_PICKS, { timeoutMs: READY_TIMEOUT_MS, folderPath });
  await screenshot('10-ready.png');
}

await run(steps);
