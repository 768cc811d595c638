/** Shared by the integration tests: the activated extension's API and a way to answer its quick inputs. */
import * as assert from 'assert';
import * as vscode from 'vscode';
import type { Ai2aiApi } from '../../src/extension';
import type { ShownInput } from '../../src/vscode/input';

export const EXTENSION_ID = 'ai2ai.ai2ai';

export async function activate(): Promise<Ai2aiApi> {
  const ext = vscode.extensions.getExtension<Ai2aiApi>(EXTENSION_ID);
  assert.ok(ext, `extension ${EXTENSION_ID} not found`);
  const api = await ext.activate();
  await api.ready;
  return api;
}

/**
 * One answer per widget, in order: text for an input box, a label (or predicate) for a quick pick, Enter on
 * whatever the quick pick offers first (its default), a button of a message or dismissing it.
 */
export type Reply =
  | { type: 'text'; value: string; expectError?: RegExp; thenValue?: string }
  | { type: 'pick'; label: string | RegExp }
  | { type: 'pickMany'; labels: string[] }
  | { type: 'enter'; expect?: string }
  | { type: 'button'; label: string }
  | { type: 'dismiss' }
  | { type: 'cancel' };

export const text = (value: string): Reply => ({ type: 'text', value });
export const pick = (label: string | RegExp): Reply => ({ type: 'pick', label });
/** Enter without choosing: takes the item the quick pick starts on, which must be `expect` when given. */
export const enter = (expect?: string): Reply => ({ type: 'enter', expect });
export const button = (label: string): Reply => ({ type: 'button', label });
export const dismiss: Reply = { type: 'dismiss' };

const settle = () => new Promise(r => setTimeout(r, 150));

/**
 * Answers the real VS Code input boxes and quick picks the command shows, the way a user would: types the
 * value (or moves to the item), then presses Enter through VS Code's own accept command.
 */
export async function runWithAnswers<T>(api: Ai2aiApi, command: string, replies: Reply[], ...args: unknown[]): Promise<{ result: T; titles: string[] }> {
  const queue = [...replies];
  const titles: string[] = [];
  const errors: unknown[] = [];
  const sub = api.prompter.onDidShow(shown => {
    if (shown.kind === 'message') {
      // A message takes an answer only when one for a message comes next; otherwise it is dismissed.
      const next = queue[0]?.type === 'button' || queue[0]?.type === 'dismiss' ? queue.shift() : dismiss;
      answer(shown, next).catch(e => errors.push(e));
      return;
    }
    titles.push(shown.title);
    const reply = queue.shift();
    answer(shown, reply).catch(e => errors.push(e));
  });
  try {
    const result = (await vscode.commands.executeCommand(command, ...args)) as T;
    if (errors.length) throw errors[0];
    assert.equal(queue.length, 0, `${command}: ${queue.length} answer(s) were never asked for (asked: ${titles.join(' | ')})`);
    return { result, titles };
  } finally {
    sub.dispose();
  }
}

export async function answer(shown: ShownInput, reply: Reply | undefined): Promise<void> {
  await settle();
  if (shown.kind === 'message') {
    // A message: a button, or closed without one (what the user's ✕ does).
    if (reply?.type === 'button') {
      assert.ok(shown.actions.includes(reply.label), `"${shown.title}" offers ${shown.actions.join(', ') || 'no button'}, not ${reply.label}`);
      shown.answer(reply.label);
    } else {
      shown.answer(undefined);
      if (reply?.type !== 'dismiss' && reply?.type !== 'cancel') throw new Error(`unexpected message "${shown.title}"`);
    }
    return;
  }
  if (!reply) {
    shown.widget.hide();
    throw new Error(`unexpected input "${shown.title}"`);
  }
  if (reply.type === 'cancel') {
    shown.widget.hide();
    return;
  }
  if (shown.kind === 'input') {
    assert.equal(reply.type, 'text', `"${shown.title}" is an input box`);
    const r = reply as Extract<Reply, { type: 'text' }>;
    shown.widget.value = r.value;
    await settle();
    if (r.expectError) {
      // The box says what is wrong and stays open; then the user corrects it.
      await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
      await settle();
      assert.match(shown.widget.validationMessage?.toString() ?? '', r.expectError);
      shown.widget.value = r.thenValue ?? '';
      await settle();
    }
  } else {
    const items = shown.widget.items;
    if (reply.type === 'pickMany') {
      shown.widget.selectedItems = items.filter(i => reply.labels.includes(i.label));
    } else if (reply.type === 'enter') {
      // Nothing chosen: Enter takes the active item, as for a user who accepts the default.
      await until(`"${shown.title}" to show its items`, () => shown.widget.activeItems.length > 0, 2000);
      if (reply.expect !== undefined) assert.equal(shown.widget.activeItems[0]?.label, reply.expect, `the default of "${shown.title}"`);
    } else {
      assert.equal(reply.type, 'pick', `"${shown.title}" is a quick pick`);
      const want = (reply as Extract<Reply, { type: 'pick' }>).label;
      const item = items.find(i => (typeof want === 'string' ? i.label === want : want.test(i.label)));
      assert.ok(item, `"${shown.title}": no item ${want} among ${items.map(i => i.label).join(', ')}`);
      shown.widget.activeItems = [item];
    }
    await settle();
  }
  await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
}

/** Every message and widget shown from now on, answered by `reply` (default: dismissed / left alone). */
export function watch(api: Ai2aiApi, reply: (shown: ShownInput) => Reply | undefined = () => dismiss): { shown: ShownInput[]; dispose(): void } {
  const shown: ShownInput[] = [];
  const sub = api.prompter.onDidShow(s => {
    shown.push(s);
    const r = reply(s);
    if (r) void answer(s, r).catch(() => undefined);
  });
  return { shown, dispose: () => sub.dispose() };
}

export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise(r => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}
