import type { WireProtocol } from './types';

export type ProtocolOverride = 'auto' | 'native' | 'text' | 'json';

/**
 * Which wire format to use for a model.
 * - An explicit override wins, even `native` without a reported `tools` capability: OpenAI-compatible
 *   servers report no capabilities at all, and the user knows their server. A wrong choice surfaces as
 *   the provider's own error ("does not support tools").
 * - `auto`: `native` when /api/show lists `tools`, otherwise `text`.
 * - `json` is never chosen automatically, not even for ~1B models: `format` is ignored by some engines,
 *   and constrained JSON forces code into escaped strings, which small models garble more often than
 *   raw text bodies. It is an opt-in for models that cannot keep to the tag format.
 */
export function chooseProtocol(capabilities: readonly string[], override: ProtocolOverride = 'auto', _modelName?: string): WireProtocol {
  if (override !== 'auto') return override;
  return capabilities.includes('tools') ? 'native' : 'text';
}
