// The first five minutes as a new user would spend them, in a real VS Code workbench (code-server + headless
// chromium), run by `node scripts/vscode-run.mjs ui` with AI2AI_E2E_SCRIPT pointing here and no seed: an empty
// board. Only the keyboard and the mouse: add a model server (a fake Ollama on another port), create an agent
// on it with a model picked from that server's list, create a task, run it, open its details. A screenshot
// per step (artifacts/ui-<version>-walkthrough-<n>-<step>.png, with AI2AI_E2E_VARIANT=walkthrough); the README's "first five minutes" shows them.
'use strict';

const path = require('path');

const REPO = path.resolve(__dirname, '../..');
const { startFakeOllama } = require(path.join(REPO, 'out/test/fake-ollama/server.js'));
const { addFunctionScenario, asText } = require(path.join(REPO, 'out/test/fake-ollama/scenarios.js'));

/**
 * @param {{ page: import('playwright-core').Page, url: string, screenshot: (name: string) => string, log: (...a: unknown[]) => void }} o
 */
async function runUiCheck({ page, url, screenshot, log }) {
  const fake = await startFakeOllama();
  // The agent's run, as the model would write it (text protocol), at a pace a person can watch.
  fake.script('gemma3:1b', ...addFunctionScenario().map(a => ({ ...asText(a), pieceDelayMs: 8 })));
  log(`fake Ollama (the "GPU box") on ${fake.url}`);
  try {
    await walk({ page, url, screenshot, log, fake });
  } finally {
    await fake.close();
  }
}

async function walk({ page, url, screenshot, log, fake }) {
  let n = 0;
  /** The whole window, and with `clip` also the part that matters (`<n>-<name>-crop.png`, small enough for the README). */
  const shot = async (name, clip) => {
    await page.mouse.move(1390, 890); // no hover tooltip in the picture
    await page.waitForTimeout(400);
    const file = screenshot(`${++n}-${name}`);
    await page.screenshot({ path: file });
    if (clip) await page.screenshot({ path: screenshot(`${n}-${name}-crop`), clip });
    log(`screenshot ${path.relative(process.cwd(), file)}`);
  };
  const sidebar = page.locator('[id="workbench.parts.sidebar"]');
  const input = page.locator('.quick-input-widget .quick-input-box input');

  /** Waits until the open quick input shows `what` (its title with the step, a placeholder or an item). */
  const quick = (what, timeout = 20_000) =>
    page.waitForFunction(
      w => {
        const el = document.querySelector('.quick-input-widget');
        if (!el || !el.offsetParent) return false;
        const box = el.querySelector('.quick-input-box input');
        return `${el.textContent} ${box?.getAttribute('placeholder') ?? ''} ${box?.getAttribute('aria-label') ?? ''}`.includes(w);
      },
      what,
      { timeout },
    );
  /** Answers the quick input showing `what`: types `value` (replacing what is there) when given, then Enter. */
  const answer = async (what, value) => {
    await quick(what);
    if (value !== undefined) {
      await input.fill(value);
      await page.waitForTimeout(250); // the list filters / validation runs
    }
    await page.keyboard.press('Enter');
    await page.waitForTimeout(300);
  };
  const command = async title => {
    await page.keyboard.press('F1');
    await quick('>');
    await input.fill(`>${title}`);
    await page.waitForTimeout(400);
    await page.keyboard.press('Enter');
  };
  const row = text => sidebar.locator('.monaco-list-row', { hasText: text }).first();

  log(`opening ${url}`);
  await page.goto(url);
  await page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
  const icon = page.locator('.activitybar a.action-label[aria-label^="AI2AI"]');
  await icon.waitFor({ timeout: 90_000 });
  for (let attempt = 1; ; attempt++) {
    await icon.click();
    if (await sidebar.locator('.pane-header', { hasText: /^\s*Agents/i }).first().waitFor({ timeout: 10_000 }).then(() => true, () => false)) break;
    if (attempt === 3) throw new Error('the AI2AI views did not open');
  }
  const welcome = sidebar.locator('.welcome-view-content', { hasText: 'model server' }).first();
  await welcome.waitFor({ timeout: 45_000 });
  await sidebar.locator('.pane-header', { hasText: /^\s*Model Providers/i }).first().waitFor();
  await row('Ollama (this machine)').waitFor({ timeout: 30_000 });
  await shot('empty', { x: 0, y: 0, width: 345, height: 480 }); // the empty board says what to do first: add a model server
  log('1. empty board, with "Add Model Server"');

  // 1. Add the model server (an Ollama on another machine, here another port).
  await welcome.locator('a, .monaco-button', { hasText: 'Add Model Server' }).first().click();
  await answer('What kind of server?', 'Ollama');
  await answer('Add Model Provider (2/4)', 'GPU box');
  await answer('Add Model Provider (3/4)', fake.url);
  await answer('Add Model Provider (4/4)');
  await row('GPU box').locator('.label-description', { hasText: /^online/ }).waitFor({ timeout: 30_000 });
  await shot('provider', { x: 0, y: 590, width: 345, height: 90 });
  log('2. provider added and online');

  // 2. Create an agent on it, with a model picked from the server's own list.
  await welcome.locator('a, .monaco-button', { hasText: 'Create Agent' }).first().click();
  await answer('Create Agent (1/6)', 'Ada');
  await answer('What does this agent do?', 'Developer');
  await answer('Create Agent (3/6)');
  await quick('Which model server runs this agent?');
  await page.locator('.quick-input-list .monaco-list-row.focused', { hasText: 'GPU box' }).waitFor({ timeout: 10_000 }); // the new server is the default
  await page.keyboard.press('Enter');
  await quick('Which model on GPU box runs this agent?');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: '815 MB' }).first().waitFor({ timeout: 10_000 });
  await shot('model-list', { x: 0, y: 0, width: 1005, height: 232 });
  await answer('Which model on GPU box runs this agent?', 'gemma3:1b');
  await answer('Where does the agent work?');
  await row('Ada').waitFor({ timeout: 20_000 });
  await shot('agent');
  log('3. agent Ada on gemma3:1b at GPU box');

  // 3. A task for it.
  await command('AI2AI: Create Task');
  await answer('Create Task (1/6)', 'Write the add function');
  await answer('Create Task (2/6)', 'src/add.js exporting add(a, b), with tests');
  await answer('Create Task (3/6)');
  await answer('Priority'); // Enter: the default, normal
  await answer('Attach files the agent should read');
  await answer('Who should do it?', 'Ada');
  await row('Write the add function').waitFor({ timeout: 20_000 });
  log('4. task created and assigned');

  // 4. Run it.
  await command('AI2AI: Run Task');
  await answer('Which task should its agent work on?', 'Write the add function');
  await page.locator('.notifications-toasts', { hasText: 'Ada' }).first().waitFor({ timeout: 30_000 }).catch(() => undefined);
  await page.waitForTimeout(1500);
  await shot('running', { x: 0, y: 40, width: 1400, height: 860 });
  const done = sidebar.locator('.monaco-list-row', { hasText: 'Write the add function' }).filter({ has: page.locator('.codicon-pass-filled') }).first();
  await sidebar.locator('.monaco-list-row', { hasText: /Completed \(1\)/ }).first().waitFor({ timeout: 90_000 });
  await done.waitFor({ timeout: 10_000 }).catch(() => undefined);
  log('5. the run completed; the task is shown in its group');

  // 5. Its details.
  await row('Write the add function').click();
  const view = page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
  await view.locator('h2', { hasText: 'Runs (1)' }).waitFor({ timeout: 30_000 });
  await view.locator('[data-outcome="completed"]').first().waitFor({ timeout: 10_000 });
  const tab = page.locator('.tabs-container .tab', { hasText: 'Write the add function' }).first();
  await tab.waitFor({ timeout: 10_000 });
  // A preview tab's label is in italics (and the next click replaces it): this one must be a normal tab.
  if ((await tab.locator('.italic').count()) > 0 || /\bpreview\b/.test((await tab.getAttribute('class')) ?? '')) throw new Error('the details tab opened as a preview');
  await shot('details', { x: 0, y: 35, width: 1400, height: 510 });
  log('6. details: titled by the task, pinned, with the completed run');
}

module.exports = { runUiCheck };
