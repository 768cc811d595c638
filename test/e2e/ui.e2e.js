// End-to-end UI check in a real VS Code workbench (code-server + headless chromium), run by
// `node scripts/vscode-run.mjs ui` (npm run test:e2e) after out/test/e2e/seed.js has created an agent and a task
// in the extension's globalStorage. It opens the workbench with the extension under development, clicks the AI2AI
// activity-bar entry and asserts that the seeded agent and task show up as rows of the AI2AI tree views.
// It asserts on tree rows, not notification toasts (VS Code 1.139 does not render toasts headless).
//
// Environment:
//   AI2AI_E2E_EXPECT  '|'-separated texts that must each appear in a tree row of the AI2AI views
//                     (default "Ada|Write the add function": what test/e2e/seed.ts creates); "" = only check the views
'use strict';

const CONTAINER_TITLE = 'AI2AI'; // package.json contributes.viewsContainers.activitybar[].title
const VIEW_NAMES = ['Agents', 'Tasks']; // contributes.views.ai2ai[].name
const expected = (process.env.AI2AI_E2E_EXPECT ?? 'Ada|Write the add function').split('|').map(s => s.trim()).filter(Boolean);
// AI2AI_E2E_EXPECT_WELCOME: '|'-separated texts that must appear in the views' welcome content (empty states, errors)
const expectedWelcome = (process.env.AI2AI_E2E_EXPECT_WELCOME ?? '').split('|').map(s => s.trim()).filter(Boolean);
// AI2AI_E2E_OPEN: the title of a task row to click; its details must then show every '|'-separated text of
// AI2AI_E2E_DETAILS (in an editor or a webview), and a screenshot "details" is saved.
const openTask = process.env.AI2AI_E2E_OPEN ?? '';
const expectedDetails = (process.env.AI2AI_E2E_DETAILS ?? '').split('|').map(s => s.trim()).filter(Boolean);
// AI2AI_E2E_DASHBOARD: '|'-separated texts the dashboard must show; when set, the check opens it through the
// command palette ("AI2AI: Open Dashboard"), waits for them in its webview, and saves a screenshot "dashboard".
const expectedDashboard = (process.env.AI2AI_E2E_DASHBOARD ?? '').split('|').map(s => s.trim()).filter(Boolean);

/**
 * @param {{ page: import('playwright-core').Page, url: string, screenshot: (name: string) => string, log: (...a: unknown[]) => void }} o
 */
async function runUiCheck({ page, url, screenshot, log }) {
  log(`opening ${url}`);
  await page.goto(url);
  await page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
  log('workbench rendered');

  const sidebar = page.locator('[id="workbench.parts.sidebar"]');
  const paneHeader = name => sidebar.locator('.pane-header', { hasText: new RegExp(`^\\s*${name}`, 'i') }).first();
  const icon = page.locator(`.activitybar a.action-label[aria-label^="${CONTAINER_TITLE}"]`);
  await icon.waitFor({ timeout: 90_000 });
  log(`activity-bar entry "${CONTAINER_TITLE}" present`);
  // a click toggles the container: click again if our views did not appear
  for (let attempt = 1; ; attempt++) {
    await icon.click();
    const shown = await paneHeader(VIEW_NAMES[0]).waitFor({ timeout: 10_000 }).then(() => true, () => false);
    if (shown) break;
    if (attempt === 3) throw new Error(`clicking the "${CONTAINER_TITLE}" activity-bar entry did not show the "${VIEW_NAMES[0]}" view`);
  }
  for (const name of VIEW_NAMES) {
    await paneHeader(name).waitFor({ timeout: 10_000 });
    // expand a collapsed view so its rows render
    if ((await paneHeader(name).getAttribute('aria-expanded')) === 'false') await paneHeader(name).click();
  }
  log(`views shown: ${VIEW_NAMES.join(', ')}`);

  const missing = [];
  const deadline = Date.now() + 45_000;
  for (const text of expected) {
    const row = sidebar.locator('.monaco-list-row', { hasText: text }).first();
    const ok = await row.waitFor({ timeout: Math.max(1_000, deadline - Date.now()) }).then(() => true, () => false);
    if (!ok) missing.push(text);
  }
  for (const text of expectedWelcome) {
    const ok = await sidebar.locator('.welcome-view-content', { hasText: text }).first()
      .waitFor({ timeout: Math.max(1_000, deadline - Date.now()) }).then(() => true, () => false);
    if (!ok) missing.push(`welcome: ${text}`);
  }
  await page.mouse.move(700, 450); // away from the activity bar: no hover tooltip in the screenshot
  await page.waitForTimeout(500); // let rendering settle (icons, descriptions)
  for (const line of await describeViews(sidebar)) log(line);

  if (missing.length) { // (the caller saves a failure screenshot)
    throw new Error(`no tree row containing ${missing.map(t => JSON.stringify(t)).join(', ')} in the ${CONTAINER_TITLE} views ` +
      `(expected from AI2AI_E2E_EXPECT=${JSON.stringify(expected.join('|'))}; was test/e2e/seed.ts compiled and did it run?)`);
  }
  log(`found rows for: ${expected.map(t => JSON.stringify(t)).join(', ') || '(nothing expected)'}`);
  const shot = screenshot('sidebar');
  await page.screenshot({ path: shot });
  log(`screenshot ${require('path').relative(process.cwd(), shot)}`);
  if (openTask) await checkDetails({ page, sidebar, screenshot, log });
  if (expectedDashboard.length) await checkDashboard({ page, screenshot, log });
}

/** Clicks a task row and waits until its details show the expected texts, in the editor or in a webview frame. */
async function checkDetails({ page, sidebar, screenshot, log }) {
  // Through the command palette, as a keyboard user would: F1, the command, then the task in its pick.
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ timeout: 10_000 });
  await input.fill('>AI2AI: Show Task Details');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Show Task Details' }).first().waitFor({ timeout: 10_000 });
  await page.keyboard.press('Enter');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: openTask }).first().waitFor({ timeout: 10_000 });
  await input.fill(openTask);
  await page.waitForTimeout(300);
  await page.keyboard.press('Enter');
  log(`opened the details of "${openTask}"`);
  const missing = new Set(expectedDetails);
  const deadline = Date.now() + 30_000;
  while (missing.size && Date.now() < deadline) {
    for (const text of [...missing]) {
      for (const frame of page.frames()) {
        if (await frame.getByText(text, { exact: false }).first().isVisible().catch(() => false)) {
          missing.delete(text);
          break;
        }
      }
    }
    if (missing.size) await page.waitForTimeout(500);
  }
  await page.mouse.move(700, 450);
  await page.waitForTimeout(500);
  const shot = screenshot('details');
  await page.screenshot({ path: shot });
  log(`screenshot ${require('path').relative(process.cwd(), shot)}`);
  if (missing.size) throw new Error(`the details of "${openTask}" do not show ${[...missing].map(t => JSON.stringify(t)).join(', ')}`);
  log(`details show: ${expectedDetails.map(t => JSON.stringify(t)).join(', ')}`);
}

/** Opens the dashboard from the command palette and waits until its webview shows every expected text. */
async function checkDashboard({ page, screenshot, log }) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ timeout: 10_000 });
  await input.fill('>AI2AI: Open Dashboard');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Open Dashboard' }).first().waitFor({ timeout: 10_000 });
  await page.keyboard.press('Enter');
  log('dashboard command run');
  // The webview's content lives in nested iframes: look in every frame until one holds all the texts.
  const deadline = Date.now() + 45_000;
  let missing = expectedDashboard;
  while (Date.now() < deadline) {
    for (const frame of page.frames()) {
      const body = await frame.evaluate(() => document.body?.innerText ?? '').catch(() => '');
      if (!body.includes('AI2AI Dashboard')) continue;
      missing = expectedDashboard.filter(t => !body.includes(t));
      if (!missing.length) break;
    }
    if (!missing.length) break;
    await page.waitForTimeout(300);
  }
  if (missing.length) throw new Error(`the dashboard does not show ${missing.map(t => JSON.stringify(t)).join(', ')}`);
  await page.mouse.move(700, 450);
  await page.waitForTimeout(500);
  const shot = screenshot('dashboard');
  await page.screenshot({ path: shot });
  log(`dashboard shows ${expectedDashboard.map(t => JSON.stringify(t)).join(', ')}; screenshot ${require('path').relative(process.cwd(), shot)}`);
}

/** One line per view pane of the sidebar: its title and the texts of its tree rows. */
async function describeViews(sidebar) {
  const lines = [];
  const panes = sidebar.locator('.pane');
  for (let i = 0; i < await panes.count(); i++) {
    const pane = panes.nth(i);
    const title = (await pane.locator('.pane-header .title').first().innerText().catch(() => '?')).trim();
    // "label — description" per row
    const rows = await pane.locator('.monaco-list-row').evaluateAll(els => els.map(el => {
      const part = sel => (el.querySelector(sel)?.textContent ?? '').replace(/\s+/g, ' ').trim();
      const label = part('.label-name') || (el.textContent ?? '').replace(/\s+/g, ' ').trim();
      const description = part('.label-description');
      return description ? `${label} — ${description}` : label;
    }));
    const welcome = rows.length ? '' : (await pane.locator('.welcome-view-content').allInnerTexts().catch(() => [])).join(' ').replace(/\s+/g, ' ').trim();
    lines.push(`view "${title}": ${rows.length} row(s) ${JSON.stringify(rows)}${welcome ? ` welcome: ${JSON.stringify(welcome.slice(0, 80))}` : ''}`);
  }
  return lines;
}

module.exports = { runUiCheck };
