/**
 * VS Code's own chat models (GitHub Copilot's, or any model another extension contributes) as one more
 * implementation of the core's `LlmProvider`, through the Language Model API (`lm.selectChatModels`). The
 * model names are the models' ids. A model that says it supports tool calling (`capabilities.supportsToolCalling`,
 * newer VS Code versions) gets native tool calls; every other one the text protocol. Consent is VS Code's: the first request asks the user (with our justification) and a
 * refusal comes back as `NoPermissions`, which becomes an `unauthorized` error that says what to do.
 */
import * as vscode from 'vscode';
import { ProviderError, estimateTokens, type ChatDelta, type ChatMessage, type ChatRequest, type ChatResult, type Health, type LlmProvider, type ModelInfo, type ModelSummary, type ToolCall } from '../core/providers';
import { VSCODE_LM_URL } from '../core/providers/providerService';

/** The slice of `vscode.lm` this uses (tests pass their own). */
export interface LmApi {
  selectChatModels(selector?: vscode.LanguageModelChatSelector): Thenable<readonly vscode.LanguageModelChat[]>;
}

const JUSTIFICATION = 'AI2AI agents use this model to work on the tasks you give them.';

export class VsCodeLmProvider implements LlmProvider {
  readonly kind = 'vscode' as const;
  readonly baseUrl = VSCODE_LM_URL;

  constructor(private readonly lm: LmApi = vscode.lm) {}

  private async model(id: string): Promise<vscode.LanguageModelChat> {
    const models = await this.lm.selectChatModels({ id });
    const m = models.find(x => x.id === id) ?? models[0];
    if (!m) {
      const available = (await this.lm.selectChatModels()).map(x => x.id);
      throw new ProviderError('model_not_found', `VS Code has no chat model "${id}".${available.length ? ` It has: ${available.join(', ')}.` : ' Install or sign in to an extension that provides one (e.g. GitHub Copilot).'}`);
    }
    return m;
  }

  async listModels(): Promise<ModelSummary[]> {
    return (await this.lm.selectChatModels()).map(m => ({ name: m.id, family: m.family }));
  }

  async probe(model: string): Promise<ModelInfo> {
    const m = await this.model(model);
    // VS Code 1.100 says nothing about tool calling; later versions do. Unknown means the text protocol.
    const tools = (m as { capabilities?: { supportsToolCalling?: boolean } }).capabilities?.supportsToolCalling;
    return { capabilities: tools ? ['completion', 'tools'] : ['completion'], contextLength: m.maxInputTokens, family: m.family, capabilitiesKnown: tools !== undefined };
  }

  async health(): Promise<Health> {
    try {
      const n = (await this.lm.selectChatModels()).length;
      return n ? { ok: true, version: `${n} model${n > 1 ? 's' : ''}` } : { ok: false, reason: 'VS Code offers no chat model. Install or sign in to an extension that provides one (e.g. GitHub Copilot).' };
    } catch (e) {
      return { ok: false, reason: e instanceof Error ? e.message : String(e) };
    }
  }

  async chat(req: ChatRequest, signal: AbortSignal, onDelta?: (d: ChatDelta) => void): Promise<ChatResult> {
    const started = performance.now();
    if (signal.aborted) throw new ProviderError('cancelled', 'Cancelled.');
    const model = await this.model(req.model);
    const messages = toLmMessages(req.messages);
    const cts = new vscode.CancellationTokenSource();
    const abort = () => cts.cancel();
    signal.addEventListener('abort', abort);
    let content = '';
    const toolCalls: ToolCall[] = [];
    try {
      const tools = req.tools?.map(t => ({ name: t.name, description: t.description, inputSchema: t.parameters }));
      const response = await model.sendRequest(messages, { justification: JUSTIFICATION, ...(tools?.length ? { tools } : {}) }, cts.token);
      for await (const part of response.stream) {
        if (signal.aborted) break;
        if (part instanceof vscode.LanguageModelTextPart) {
          content += part.value;
          onDelta?.({ content: part.value });
        } else if (part instanceof vscode.LanguageModelToolCallPart) {
          toolCalls.push({ id: part.callId, name: part.name, arguments: (part.input ?? {}) as Record<string, unknown> });
        }
      }
      if (signal.aborted) throw new ProviderError('cancelled', 'Cancelled.');
    } catch (e) {
      throw toProviderError(e, model, signal);
    } finally {
      signal.removeEventListener('abort', abort);
      cts.dispose();
    }
    const promptText = req.messages.map(m => m.content).join('\n');
    const [promptTokens, completionTokens] = await Promise.all([
      model.countTokens(promptText).then(n => n, () => estimateTokens(req.messages)),
      model.countTokens(content).then(n => n, () => estimateTokens([{ content }])),
    ]);
    const totalMs = performance.now() - started;
    return { content, toolCalls, doneReason: toolCalls.length ? 'tool_calls' : 'stop', promptTokens, completionTokens, modelMs: totalMs, totalMs, loadMs: 0 };
  }
}

/**
 * The conversation in VS Code's terms. There is no system role in the stable API: the system prompt leads as
 * the first user message. Native tool calls go back as tool-call parts and their results as tool-result
 * parts (ids made up in order where the conversation has none); with the text protocol everything is text.
 */
export function toLmMessages(messages: readonly ChatMessage[]): vscode.LanguageModelChatMessage[] {
  const pending: string[] = [];
  return messages.map((m, i) => {
    if (m.role === 'assistant') {
      if (!m.toolCalls?.length) return vscode.LanguageModelChatMessage.Assistant(m.content);
      const calls = m.toolCalls.map((c, j) => {
        const id = c.id ?? `ai2ai-${i}-${j}`;
        pending.push(id);
        return new vscode.LanguageModelToolCallPart(id, c.name, c.arguments);
      });
      return vscode.LanguageModelChatMessage.Assistant([...(m.content ? [new vscode.LanguageModelTextPart(m.content)] : []), ...calls]);
    }
    if (m.role === 'tool') {
      const id = m.toolCallId ?? pending.shift() ?? `ai2ai-${i}`;
      return vscode.LanguageModelChatMessage.User([new vscode.LanguageModelToolResultPart(id, [new vscode.LanguageModelTextPart(m.content)])]);
    }
    return vscode.LanguageModelChatMessage.User(m.role === 'system' ? `[Instructions]\n${m.content}` : m.content);
  });
}

function toProviderError(e: unknown, model: vscode.LanguageModelChat, signal: AbortSignal): ProviderError {
  if (ProviderError.isProviderError(e)) return e;
  if (signal.aborted || e instanceof vscode.CancellationError) return new ProviderError('cancelled', 'Cancelled.', { cause: e });
  const code = e instanceof vscode.LanguageModelError ? e.code : (e as { code?: string })?.code;
  const text = e instanceof Error ? e.message : String(e);
  switch (code) {
    case vscode.LanguageModelError.NoPermissions.name:
      return new ProviderError('unauthorized', `AI2AI may not use ${model.name} (${model.vendor}): the permission was not given. Run the task again and allow it when VS Code asks, or manage it in the Accounts menu.`, { cause: e });
    case vscode.LanguageModelError.NotFound.name:
      return new ProviderError('model_not_found', `${model.name} is no longer available in VS Code.`, { cause: e });
    case vscode.LanguageModelError.Blocked.name:
      return new ProviderError('busy', `${model.name} refused the request for now (quota or rate limit): ${text}`, { cause: e, retryable: true });
    default:
      return new ProviderError('server', `${model.name} failed: ${text}`, { cause: e });
  }
}
