/**
 * Models AI2AI knows by name: offered as suggestions when a server's own list cannot be read, and the
 * download size named before a pull (Ollama's API says nothing about a model's size before it is pulled).
 */
export interface KnownModel {
  name: string;
  title: string;
  detail: string;
  /** Download size (Ollama library, default quantization). */
  sizeBytes: number;
}

export const KNOWN_MODELS: readonly KnownModel[] = [
  { name: 'deepseek-coder-v2:16b', title: 'DeepSeek Coder V2 16B', detail: 'Strong at code; fast on a GPU', sizeBytes: 8.9e9 },
  { name: 'gemma3:1b', title: 'Gemma 3 1B', detail: 'Tiny and quick; fine for simple tasks, runs on a CPU', sizeBytes: 815e6 },
];

export function knownModel(name: string): KnownModel | undefined {
  const n = name.trim().toLowerCase();
  return KNOWN_MODELS.find(m => m.name === n || (!n.includes(':') && m.name === `${n}:latest`));
}
