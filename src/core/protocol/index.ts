export * from './types';
export { validateCall } from './validate';
export { parseTextReply, parseTextAction, TextProtocolStreamParser, type StreamStatus, type TextParseOptions } from './text';
export { renderTextProtocolInstructions, renderExample, formatToolResult, type FormatResultOptions } from './textInstructions';
export { jsonProtocolSchema, parseJsonReply } from './json';
export { nativeToolDefinitions, parseNativeToolCalls, type NativeToolCall, type NativeToolDefinition } from './native';
export { chooseProtocol, type ProtocolOverride } from './choose';
