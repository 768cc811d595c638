/**
 * Quick inputs: one input box or quick pick at a time, with step counters, a Back button and inline
 * validation, and multi-step flows built from them; and messages with buttons. Every widget and message
 * shown is announced on `onDidShow`, so integration tests can answer them the way a user would (a message
 * can also be dismissed: no button, no action).
 */
import * as vscode from 'vscode';

export const BACK = Symbol('back');
export type Answer<T> = T | typeof BACK | undefined;

export type ShownInput =
  | { kind: 'input'; title: string; widget: vscode.InputBox }
  | { kind: 'pick'; title: string; widget: vscode.QuickPick<vscode.QuickPickItem> }
  | { kind: 'message'; title: string; severity: Severity; actions: readonly string[]; answer(action: string | undefined): void };

export type Severity = 'info' | 'warning' | 'error';

interface Common {
  title: string;
  step?: number;
  totalSteps?: number;
}

export interface InputOptions extends Common {
  prompt: string;
  value?: string;
  placeholder?: string;
  /** Hide what is typed (API keys). */
  password?: boolean;
  /** Returns a message when the value is not acceptable. */
  validate?: (value: string) => string | undefined;
}

export interface PickOptions extends Common {
  placeholder: string;
}

export class Prompter implements vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<ShownInput>();
  readonly onDidShow = this.emitter.event;

  input(o: InputOptions): Promise<Answer<string>> {
    const box = vscode.window.createInputBox();
    box.title = o.title;
    box.step = o.step;
    box.totalSteps = o.totalSteps;
    box.prompt = o.prompt;
    box.placeholder = o.placeholder;
    box.value = o.value ?? '';
    box.password = o.password ?? false;
    box.ignoreFocusOut = true;
    box.buttons = o.step && o.step > 1 ? [vscode.QuickInputButtons.Back] : [];
    const check = (v: string) => (box.validationMessage = o.validate?.(v));
    check(box.value);
    return this.run(box, { kind: 'input', title: o.title, widget: box }, (resolve, subs) => {
      subs.push(
        box.onDidChangeValue(check),
        box.onDidAccept(() => {
          const msg = o.validate?.(box.value);
          box.validationMessage = msg;
          if (!msg) resolve(box.value.trim());
        }),
      );
    });
  }

  /** One item. An item marked `picked` is the default: it starts active, so Enter takes it. */
  pick<T extends vscode.QuickPickItem>(items: readonly T[], o: PickOptions): Promise<Answer<T>> {
    const qp = createPick(items, o);
    const preselected = items.find(i => i.picked);
    if (preselected) qp.activeItems = [preselected];
    const shown = { kind: 'pick', title: o.title, widget: qp } as ShownInput;
    return this.run(qp, shown, (resolve, subs) => {
      subs.push(
        qp.onDidAccept(() => {
          const item = qp.selectedItems[0] ?? qp.activeItems[0];
          if (item) resolve(item);
        }),
      );
    });
  }

  /** Several items at once; `picked` items start selected. */
  pickMany<T extends vscode.QuickPickItem>(items: readonly T[], o: PickOptions): Promise<Answer<readonly T[]>> {
    const qp = createPick(items, o);
    qp.canSelectMany = true;
    qp.selectedItems = items.filter(i => i.picked);
    const shown = { kind: 'pick', title: o.title, widget: qp } as ShownInput;
    return this.run(qp, shown, (resolve, subs) => {
      subs.push(qp.onDidAccept(() => resolve([...qp.selectedItems])));
    });
  }

  /**
   * A message with buttons; resolves with the button chosen, or undefined when the message was closed or
   * dismissed. Callers act only on a button: a dismissed message never runs anything.
   */
  notify(severity: Severity, message: string, ...actions: string[]): Promise<string | undefined> {
    return new Promise(resolve => {
      let done = false;
      const finish = (a: string | undefined) => {
        if (done) return;
        done = true;
        resolve(a !== undefined && actions.includes(a) ? a : undefined);
      };
      const show = severity === 'error' ? vscode.window.showErrorMessage : severity === 'warning' ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
      show(message, ...actions).then(finish, () => finish(undefined));
      this.emitter.fire({ kind: 'message', title: message, severity, actions, answer: finish });
    });
  }

  /** A yes/no question as a quick pick, so it can be answered from the keyboard (and by tests). */
  async confirm(title: string, yes: string, detail?: string): Promise<boolean> {
    const items: vscode.QuickPickItem[] = [{ label: yes, detail }, { label: 'Cancel' }];
    const answer = await this.pick(items, { title, placeholder: title });
    return typeof answer === 'object' && answer.label === yes;
  }

  private run<T>(
    widget: vscode.QuickInput & { onDidTriggerButton: vscode.Event<vscode.QuickInputButton> },
    shown: ShownInput,
    wire: (resolve: (v: T) => void, subs: vscode.Disposable[]) => void,
  ): Promise<Answer<T>> {
    return new Promise<Answer<T>>(resolve => {
      const subs: vscode.Disposable[] = [];
      let done = false;
      const finish = (v: Answer<T>) => {
        if (done) return;
        done = true;
        resolve(v);
        subs.forEach(s => s.dispose());
        widget.dispose();
      };
      wire(v => finish(v), subs);
      subs.push(
        widget.onDidHide(() => finish(undefined)),
        widget.onDidTriggerButton(b => b === vscode.QuickInputButtons.Back && finish(BACK)),
      );
      widget.show();
      this.emitter.fire(shown);
    });
  }

  dispose(): void {
    this.emitter.dispose();
  }
}

function createPick<T extends vscode.QuickPickItem>(items: readonly T[], o: PickOptions): vscode.QuickPick<T> {
  const qp = vscode.window.createQuickPick<T>();
  qp.title = o.title;
  qp.step = o.step;
  qp.totalSteps = o.totalSteps;
  qp.placeholder = o.placeholder;
  qp.items = items;
  qp.ignoreFocusOut = true;
  qp.matchOnDescription = true;
  qp.matchOnDetail = true;
  qp.buttons = o.step && o.step > 1 ? [vscode.QuickInputButtons.Back] : [];
  return qp;
}

export type Step = (step: number, total: number) => Promise<boolean | typeof BACK>;

/** A step that asks for text and keeps the answer with `set`; options are built when shown, so Back shows the last answer. */
export function textStep(prompter: Prompter, options: () => Omit<InputOptions, 'step' | 'totalSteps'>, set: (value: string) => void): Step {
  return async (step, totalSteps) => {
    const v = await prompter.input({ ...options(), step, totalSteps });
    if (typeof v !== 'string') return v ?? false;
    set(v);
    return true;
  };
}

/** A step that asks for one item and keeps it with `set`. */
export function pickStep<T extends vscode.QuickPickItem>(prompter: Prompter, items: () => readonly T[], options: Omit<PickOptions, 'step' | 'totalSteps'>, set: (item: T) => void): Step {
  return async (step, totalSteps) => {
    const v = await prompter.pick(items(), { ...options, step, totalSteps });
    if (typeof v !== 'object') return v ?? false;
    set(v);
    return true;
  };
}

/** An item that stands for a value; an item without one ("Other…") lets the user type it. */
export interface PresetItem extends vscode.QuickPickItem {
  value?: string;
}

/** A step that offers presets and, for "Other…", asks for the value in an input box. */
export function presetStep<T extends PresetItem>(
  prompter: Prompter,
  items: readonly T[],
  pick: Omit<PickOptions, 'step' | 'totalSteps'>,
  custom: () => Omit<InputOptions, 'step' | 'totalSteps'>,
  set: (value: string, item?: T) => void,
): Step {
  return async (step, totalSteps) => {
    const v = await prompter.pick(items, { ...pick, step, totalSteps });
    if (typeof v !== 'object') return v ?? false;
    if (v.value !== undefined) {
      set(v.value, v);
      return true;
    }
    const typed = await prompter.input({ ...custom(), step, totalSteps });
    if (typeof typed !== 'string') return typed === BACK ? BACK : false;
    set(typed);
    return true;
  };
}

/**
 * Runs steps in order; a step returns false to cancel, BACK to go one step back. Returns whether the
 * flow finished. Steps read and write a shared state object, so going back shows the earlier answer.
 */
export async function runSteps(steps: readonly Step[]): Promise<boolean> {
  let i = 0;
  while (i < steps.length) {
    const r = await steps[i](i + 1, steps.length);
    if (r === BACK) i = Math.max(0, i - 1);
    else if (!r) return false;
    else i++;
  }
  return true;
}
