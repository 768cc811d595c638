/**
 * Handing a file (or a selection in it) to an agent: pick an agent (skills, status, queue), say what to do
 * (optional), and a task is created with the file attached. The agent may read it; its changes to it come
 * back as a change set to review.
 */
import * as vscode from 'vscode';
import type { Core } from '../../core';
import { Task, type Agent } from '../../core/model/schemas';
import { AppError } from '../../core/errors';
import { workspaceRelative } from '../codeLens';
import { runSteps, pickStep, textStep, type Prompter } from '../input';

export class FileFlows {
  constructor(private readonly core: () => Promise<Core>, private readonly prompter: Prompter) {}

  /** From the CodeLens or the explorer: the file named, else the active editor's. */
  assignFile(uri?: vscode.Uri): Promise<Task | undefined> {
    const target = uri ?? vscode.window.activeTextEditor?.document.uri;
    return this.assign(target, undefined);
  }

  /** From the editor's context menu on a selection: the selected lines go into the task. */
  assignSelection(): Promise<Task | undefined> {
    const editor = vscode.window.activeTextEditor;
    const sel = editor && !editor.selection.isEmpty ? editor.selection : undefined;
    return this.assign(editor?.document.uri, sel && editor ? { range: sel, text: editor.document.getText(sel) } : undefined);
  }

  private async assign(uri: vscode.Uri | undefined, selection: { range: vscode.Range; text: string } | undefined): Promise<Task | undefined> {
    const core = await this.core();
    if (!uri) throw new AppError('validation', 'Open a file first, then assign it to an agent.');
    const rel = workspaceRelative(uri);
    if (!rel) throw new AppError('validation', 'Only files in the first folder of the workspace can be attached to a task.');
    const agents = core.agents.list();
    if (!agents.length) {
      void vscode.window.showInformationMessage('There is no agent to give it to. Create one first.', 'Create Agent').then(a => a && vscode.commands.executeCommand('ai2ai.createAgent'));
      return undefined;
    }
    const title = `Assign ${rel}${selection ? ` (lines ${selection.range.start.line + 1}-${selection.range.end.line + 1})` : ''}`;
    const s = { agent: undefined as Agent | undefined, instruction: '' };
    const ok = await runSteps([
      pickStep(this.prompter, () => agents.map(a => agentItem(core, a)).sort((a, b) => Number(b.agent.enabled) - Number(a.agent.enabled)), { title, placeholder: 'Which agent?' }, v => (s.agent = v.agent)),
      textStep(this.prompter, () => ({ title, prompt: `What should ${s.agent?.name ?? 'the agent'} do with it? (optional)`, value: s.instruction, validate: v => (v.length > 20_000 ? 'Keep it under 20,000 characters.' : undefined) }), v => (s.instruction = v)),
    ]);
    if (!ok || !s.agent) return undefined;
    const first = s.instruction.trim().split('\n')[0]?.trim() ?? '';
    const taskTitle = (first || `Work on ${rel}${selection ? ` lines ${selection.range.start.line + 1}-${selection.range.end.line + 1}` : ''}`).slice(0, 200);
    const parts = [s.instruction.trim() || `Work on the attached file ${rel}.`];
    if (selection) parts.push('', `Lines ${selection.range.start.line + 1}-${selection.range.end.line + 1} of ${rel}:`, '```', selection.text.slice(0, 10_000), '```');
    const task = core.tasks.create({ title: Task.shape.title.parse(taskTitle), description: parts.join('\n').slice(0, 20_000), attachments: [rel], assigneeId: s.agent.id });
    void vscode.window.showInformationMessage(`AI2AI: "${task.title}" is on the board for ${s.agent.name}.`, 'Run Now', 'Show Task').then(a => {
      if (a === 'Run Now') void vscode.commands.executeCommand('ai2ai.runTask', task.id);
      if (a === 'Show Task') void vscode.commands.executeCommand('ai2ai.showTask', task.id);
    });
    return task;
  }
}

function agentItem(core: Core, agent: Agent): vscode.QuickPickItem & { agent: Agent } {
  const queued = core.tasks.list({ status: ['pending'], assigneeId: agent.id }).length;
  return {
    label: agent.name,
    description: `${agent.role} · ${agent.model} · ${agent.enabled ? agent.status : 'disabled'}`,
    detail: `skills: ${agent.skills.join(', ') || 'none'} · ${queued ? `${queued} task${queued > 1 ? 's' : ''} waiting` : 'nothing waiting'}`,
    agent,
  };
}
