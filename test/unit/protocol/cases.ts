/**
 * Model replies, well-formed and not, with the outcome the text parser must give. Shared by the
 * whole-reply table test and the streaming property test.
 */
import { renderExample, type ParseErrorKind, type ToolSpec } from '../../../src/core/protocol';
import { ALL_TOOLS } from '../../../src/core/tools';

export const SPECS: ToolSpec[] = [...ALL_TOOLS];

export type Expect = { ok: true; name: string; args?: Record<string, unknown> } | { ok: false; kind: ParseErrorKind; includes?: string[] };

export interface Case {
  name: string;
  reply: string;
  doneReason?: string;
  expect: Expect;
}

const ok = (name: string, args?: Record<string, unknown>): Expect => ({ ok: true, name, args });
const err = (kind: ParseErrorKind, ...includes: string[]): Expect => ({ ok: false, kind, includes });

const READ = '<read_file>\n<path>src/a.js</path>\n</read_file>';
const READ_OK = ok('read_file', { path: 'src/a.js' });
const W = (content: string, p = 'src/a.js') => `<write_file>\n<path>${p}</path>\n<content>\n${content}</content>\n</write_file>`;
const HUGE = 'x'.repeat(64) + '\n';
const MB = HUGE.repeat(16_384); // ~1 MB

export const CASES: Case[] = [
  // --- well-formed, with the noise models add ---
  { name: 'plain action', reply: READ, expect: READ_OK },
  { name: 'leading prose', reply: `I will read the file first.\n\n${READ}`, expect: READ_OK },
  { name: 'trailing prose', reply: `${READ}\nThen I will fix it.`, expect: READ_OK },
  { name: 'xml code fence', reply: '```xml\n' + READ + '\n```', expect: READ_OK },
  { name: 'bare code fence', reply: '```\n' + READ + '\n```', expect: READ_OK },
  { name: 'fence with prose around', reply: 'Here:\n```xml\n' + READ + '\n```\nDone.', expect: READ_OK },
  { name: 'surrounding whitespace', reply: `\n\n   ${READ}   \n\n`, expect: READ_OK },
  { name: 'single line', reply: '<read_file><path>src/a.js</path></read_file>', expect: READ_OK },
  { name: 'tabs between parameters', reply: '<read_file>\n\t<path>src/a.js</path>\n\t<start_line>2</start_line>\n</read_file>', expect: ok('read_file', { path: 'src/a.js', start_line: 2 }) },
  { name: 'CRLF everywhere', reply: W('line1\nline2\n').replace(/\n/g, '\r\n'), expect: ok('write_file', { path: 'src/a.js', content: 'line1\nline2\n' }) },
  { name: 'lone CR line ends', reply: W('a\nb\n').replace(/\n/g, '\r'), expect: ok('write_file', { path: 'src/a.js', content: 'a\nb\n' }) },
  { name: 'think block first', reply: `<think>The user wants a.js.</think>\n${READ}`, expect: READ_OK },
  { name: 'think block containing an action', reply: `<think>maybe ${W('x\n', 'evil.js')} no</think>${READ}`, expect: READ_OK },
  { name: 'thinking block', reply: `<thinking>hmm <delete_file><path>x</path></delete_file></thinking>${READ}`, expect: READ_OK },
  { name: 'think with unbalanced inner tags', reply: `<think>use <content> and <path</think>${READ}`, expect: READ_OK },
  { name: 'two think blocks', reply: `<think>a</think> text <think>b <read_file></think>${READ}`, expect: READ_OK },
  { name: 'action then think with another action', reply: `${READ}<think><delete_file><path>x</path></delete_file></think>`, expect: READ_OK },
  { name: 'code with < & and </div>', reply: W('if (a < b && c) { x = "</div>"; }\n'), expect: ok('write_file', { content: 'if (a < b && c) { x = "</div>"; }\n' }) },
  { name: 'body containing </content> mid-line', reply: W('const s = "</content>";\nconst t = 1;\n'), expect: ok('write_file', { content: 'const s = "</content>";\nconst t = 1;\n' }) },
  { name: 'body containing </content> on its own line', reply: W('a\n</content>\nb\n'), expect: ok('write_file', { content: 'a\n</content>\nb\n' }) },
  { name: 'body containing </write_file> text', reply: W('const end = "</write_file>";\n'), expect: ok('write_file', { content: 'const end = "</write_file>";\n' }) },
  { name: 'XML body with nested <content> elements', reply: W('<doc>\n<content>a</content>\n<content>b</content>\n</doc>\n', 'data.xml'), expect: ok('write_file', { path: 'data.xml', content: '<doc>\n<content>a</content>\n<content>b</content>\n</doc>\n' }) },
  { name: 'SVG body with <path> elements', reply: W('<svg><path d="M0 0"></path></svg>\n', 'i.svg'), expect: ok('write_file', { path: 'i.svg', content: '<svg><path d="M0 0"></path></svg>\n' }) },
  { name: 'HTML body', reply: W('<html><body><div class="a">&amp; &lt;</div></body></html>\n', 'i.html'), expect: ok('write_file', { content: '<html><body><div class="a">&amp; &lt;</div></body></html>\n' }) },
  { name: 'body wrapped in a js fence', reply: W('```js\nconst a = 1;\n```\n'), expect: ok('write_file', { content: 'const a = 1;\n' }) },
  { name: 'markdown body with an inner fence kept', reply: W('# T\n\n```js\nx\n```\n', 'README.md'), expect: ok('write_file', { content: '# T\n\n```js\nx\n```\n' }) },
  { name: 'empty content', reply: '<write_file><path>a.txt</path><content></content></write_file>', expect: ok('write_file', { content: '' }) },
  { name: 'content of one newline', reply: '<write_file><path>a.txt</path><content>\n</content></write_file>', expect: ok('write_file', { content: '' }) },
  { name: 'content without newlines', reply: '<write_file><path>a.txt</path><content>hi</content></write_file>', expect: ok('write_file', { content: 'hi' }) },
  { name: 'content keeps extra blank lines', reply: '<write_file><path>a.txt</path><content>\n\nx\n\n</content></write_file>', expect: ok('write_file', { content: '\nx\n\n' }) },
  { name: 'unicode content', reply: W('const s = "héllo wörld ✓ 日本語 🚀";\n'), expect: ok('write_file', { content: 'const s = "héllo wörld ✓ 日本語 🚀";\n' }) },
  { name: 'unicode path', reply: '<read_file><path>docs/café.md</path></read_file>', expect: ok('read_file', { path: 'docs/café.md' }) },
  { name: 'BOM before the action', reply: `\uFEFF${READ}`, expect: READ_OK },
  { name: '1 MB body', reply: W(MB), expect: ok('write_file', { content: MB }) },
  { name: 'self-closing tool', reply: '<run_tests/>', expect: ok('run_tests', {}) },
  { name: 'self-closing tool with space', reply: 'Running.\n<run_tests />', expect: ok('run_tests', {}) },
  { name: 'open/close tool without parameters', reply: '<run_tests></run_tests>', expect: ok('run_tests', {}) },
  { name: 'defaults applied', reply: '<list_files></list_files>', expect: ok('list_files', { path: '.', recursive: false }) },
  { name: 'boolean "yes"', reply: '<list_files><path>src</path><recursive>yes</recursive></list_files>', expect: ok('list_files', { path: 'src', recursive: true }) },
  { name: 'boolean "TRUE"', reply: '<list_files><recursive>TRUE</recursive></list_files>', expect: ok('list_files', { path: '.', recursive: true }) },
  { name: 'boolean "false"', reply: '<list_files><recursive>false</recursive></list_files>', expect: ok('list_files', { path: '.', recursive: false }) },
  { name: 'number coerced', reply: '<read_file><path>a</path><start_line> 10 </start_line><end_line>20</end_line></read_file>', expect: ok('read_file', { path: 'a', start_line: 10, end_line: 20 }) },
  { name: 'short values trimmed', reply: '<read_file><path>   src/a.js  \n</path></read_file>', expect: READ_OK },
  { name: 'parameters in any order', reply: '<write_file><content>\nx\n</content><path>b.js</path></write_file>', expect: ok('write_file', { path: 'b.js', content: 'x\n' }) },
  { name: 'replace keeps indentation', reply: '<replace_in_file><path>a.js</path><search>\n  return a;\n</search><replace>\n  return b;\n</replace></replace_in_file>', expect: ok('replace_in_file', { path: 'a.js', search: '  return a;\n', replace: '  return b;\n', replace_all: false }) },
  { name: 'replace with empty replacement', reply: '<replace_in_file><path>a.js</path><search>x</search><replace></replace></replace_in_file>', expect: ok('replace_in_file', { search: 'x', replace: '' }) },
  { name: 'replace_all true', reply: '<replace_in_file><path>a.js</path><search>x</search><replace>y</replace><replace_all>true</replace_all></replace_in_file>', expect: ok('replace_in_file', { replace_all: true }) },
  { name: 'complete with multi-line result', reply: '<complete>\n<result>Done:\n- a\n- b</result>\n</complete>', expect: ok('complete', { result: 'Done:\n- a\n- b' }) },
  { name: 'fail with reason', reply: '<fail><reason>No network.</reason></fail>', expect: ok('fail', { reason: 'No network.' }) },
  { name: 'send_message', reply: '<send_message><to>bob</to><body>Ready for review.</body></send_message>', expect: ok('send_message', { to: 'bob', body: 'Ready for review.' }) },
  { name: 'report_progress', reply: '<report_progress><message>Half done</message></report_progress>', expect: ok('report_progress', { message: 'Half done' }) },
  { name: 'command with shell operators', reply: '<run_command><command>npm test && echo "<ok>" > out.txt</command></run_command>', expect: ok('run_command', { command: 'npm test && echo "<ok>" > out.txt' }) },
  { name: 'regex query with brackets', reply: '<search_files><query><\\w+></query><regex>true</regex></search_files>', expect: ok('search_files', { query: '<\\w+>', regex: true }) },
  { name: 'space before > in tags', reply: '<read_file >\n<path>src/a.js</path>\n</read_file >', expect: READ_OK },
  { name: 'prose mentions a tag without closing it', reply: `${READ}\nNext I will use <write_file> to fix it.`, expect: READ_OK },
  { name: 'HTML in prose before the action', reply: `<b>Plan</b>: read it.\n${READ}`, expect: READ_OK },
  { name: 'echoed tool_result before the action', reply: `<tool_result name="list_files">src/a.js</tool_result>\n${READ}`, expect: READ_OK },
  { name: '<think> inside a body is content', reply: W('<think>not thinking</think>\n'), expect: ok('write_file', { content: '<think>not thinking</think>\n' }) },
  { name: 'body without trailing newline', reply: '<write_file><path>a</path><content>\nx</content></write_file>', expect: ok('write_file', { content: 'x' }) },
  { name: 'cut off after a complete action', reply: `${READ}\nNow I`, doneReason: 'length', expect: READ_OK },
  { name: 'done_reason stop', reply: READ, doneReason: 'stop', expect: READ_OK },

  // --- empty and action-less ---
  { name: 'empty string', reply: '', expect: err('empty', 'empty') },
  { name: 'only spaces', reply: '    ', expect: err('empty') },
  { name: 'only newlines and tabs', reply: '\n\r\n\t\n', expect: err('empty') },
  { name: 'empty and cut off', reply: '', doneReason: 'length', expect: err('cut_off') },
  { name: 'plain prose', reply: 'I think the bug is in add().', expect: err('no_action', 'no action', '<read_file>') },
  { name: 'code only', reply: '```js\nfunction add(a,b){return a+b}\n```', expect: err('no_action') },
  { name: 'JSON instead of tags', reply: '{"tool": "read_file", "args": {"path": "a.js"}}', expect: err('no_action') },
  { name: 'only a think block', reply: '<think>I should read the file.</think>', expect: err('no_action') },
  { name: 'unclosed think', reply: `<think>reading ${READ}`, expect: err('unclosed', '</think>') },
  { name: 'unclosed think, cut off', reply: '<think>reading and reading', doneReason: 'length', expect: err('cut_off') },
  { name: 'comparison operators only', reply: 'if a < b and b > c then ok', expect: err('no_action') },
  { name: 'random angle-bracket garbage', reply: '<<<>>> <> </> << >> <a <b> c>', expect: err('no_action') },
  { name: '1 MB of prose', reply: MB, expect: err('no_action') },
  { name: 'Cyrillic look-alike tool name', reply: '<reаd_file><path>a</path></reаd_file>', expect: err('malformed', 'inside a tool tag') },

  // --- unknown tools ---
  { name: 'unknown tool edit_file', reply: '<edit_file><path>a</path></edit_file>', expect: err('unknown_tool', 'edit_file', 'write_file', 'replace_in_file') },
  { name: 'unknown tool execute_command', reply: '<execute_command><command>ls</command></execute_command>', expect: err('unknown_tool', 'execute_command') },
  { name: 'unknown tool bash', reply: '<bash>ls -la</bash>', expect: err('unknown_tool', 'bash') },
  { name: 'only an echoed tool_result', reply: '<tool_result name="x">ok</tool_result>', expect: err('unknown_tool', 'tool_result') },
  { name: 'wrong case tool name', reply: '<Read_File><path>a</path></Read_File>', expect: err('unknown_tool', 'read_file') },
  { name: 'unknown tool after think', reply: '<think>x</think><open_file>a</open_file>', expect: err('unknown_tool', 'open_file') },
  { name: 'parameter without a tool', reply: '<path>src/a.js</path>', expect: err('malformed', '<read_file>') },
  { name: 'content without a tool', reply: '<content>\nx\n</content>', expect: err('malformed', '<write_file>') },

  // --- several actions ---
  { name: 'two identical actions', reply: `${READ}\n${READ}`, expect: err('multiple_actions', 'one action', '2') },
  { name: 'two different actions', reply: `${W('x\n')}\n<run_tests/>`, expect: err('multiple_actions', 'write_file', 'run_tests') },
  { name: 'three actions', reply: `${READ}${READ}${READ}`, expect: err('multiple_actions', '3') },
  { name: 'two actions with prose between', reply: `First:\n${READ}\nThen:\n<complete><result>x</result></complete>`, expect: err('multiple_actions', 'complete') },
  { name: 'two actions in separate fences', reply: '```xml\n' + READ + '\n```\n```xml\n<run_tests/>\n```', expect: err('multiple_actions') },
  { name: 'think then two actions', reply: `<think>plan</think>${READ}${READ}`, expect: err('multiple_actions') },

  // --- unclosed and cut off ---
  { name: 'tool never closed', reply: '<read_file><path>a.js</path>', expect: err('unclosed', '</read_file>') },
  { name: 'parameter never closed', reply: '<read_file><path>a.js', expect: err('unclosed', '</read_file>', '</path>') },
  { name: 'parameter not closed before tool close', reply: '<write_file><path>a</path><content>x</write_file>', expect: err('unclosed', '</content>') },
  { name: 'closing tag in wrong case', reply: '<read_file><path>a</path></READ_FILE>', expect: err('unclosed') },
  { name: 'cut off mid body', reply: '<write_file><path>a</path><content>\nfunction f() {\n  return', doneReason: 'length', expect: err('cut_off', 'cut off') },
  { name: 'cut off mid tag', reply: '<write_file><path>a</pa', doneReason: 'length', expect: err('cut_off') },
  { name: 'cut off in prose', reply: 'Let me think about', doneReason: 'length', expect: err('cut_off') },
  { name: 'unclosed with CRLF', reply: '<read_file>\r\n<path>a</path>\r\n', expect: err('unclosed') },
  { name: '1 MB body never closed', reply: `<write_file><path>a</path><content>\n${MB}`, expect: err('unclosed') },

  // --- structure inside the action ---
  { name: 'attributes instead of children', reply: '<read_file path="a.js"></read_file>', expect: err('malformed', 'child tags') },
  { name: 'text between parameters', reply: '<read_file><path>a</path>junk</read_file>', expect: err('malformed', 'junk') },
  { name: 'value without a parameter tag', reply: '<read_file>a.js</read_file>', expect: err('malformed', '<path>') },
  { name: 'JSON inside the tool tag', reply: '<write_file>{"path":"a","content":"x"}</write_file>', expect: err('malformed') },
  { name: 'duplicate parameter', reply: '<read_file><path>a</path><path>b</path></read_file>', expect: err('malformed', 'twice') },
  { name: 'unknown parameter', reply: '<write_file><file>a</file><content>x</content></write_file>', expect: err('invalid_param', '<file>', 'path, content') },
  { name: 'tool nested in tool', reply: '<read_file><read_file><path>a</path></read_file></read_file>', expect: err('invalid_param', 'read_file has no parameter') },

  // --- parameters that fail validation ---
  { name: 'write_file without path', reply: '<write_file><content>x</content></write_file>', expect: err('missing_param', '"path"') },
  { name: 'write_file without content', reply: '<write_file><path>a</path></write_file>', expect: err('missing_param', '"content"') },
  { name: 'replace without search', reply: '<replace_in_file><path>a</path><replace>y</replace></replace_in_file>', expect: err('missing_param', '"search"') },
  { name: 'replace without search and replace', reply: '<replace_in_file><path>a</path></replace_in_file>', expect: err('missing_param', '"search"', '"replace"') },
  { name: 'complete without result', reply: '<complete></complete>', expect: err('missing_param', '"result"') },
  { name: 'complete with blank result', reply: '<complete><result>  </result></complete>', expect: err('invalid_param', 'result') },
  { name: 'send_message without to', reply: '<send_message><body>hi</body></send_message>', expect: err('missing_param', '"to"') },
  { name: 'start_line not a number', reply: '<read_file><path>a</path><start_line>abc</start_line></read_file>', expect: err('invalid_param', 'start_line') },
  { name: 'start_line zero', reply: '<read_file><path>a</path><start_line>0</start_line></read_file>', expect: err('invalid_param', 'start_line') },
  { name: 'start_line negative', reply: '<read_file><path>a</path><start_line>-3</start_line></read_file>', expect: err('invalid_param', 'start_line') },
  { name: 'start_line fractional', reply: '<read_file><path>a</path><start_line>1.5</start_line></read_file>', expect: err('invalid_param', 'start_line') },
  { name: 'end_line before start_line', reply: '<read_file><path>a</path><start_line>9</start_line><end_line>3</end_line></read_file>', expect: err('invalid_param', 'end_line') },
  { name: 'boolean "maybe"', reply: '<list_files><recursive>maybe</recursive></list_files>', expect: err('invalid_param', 'recursive') },
  { name: 'blank command', reply: '<run_command><command>   </command></run_command>', expect: err('invalid_param', 'command') },
  { name: 'empty path', reply: '<read_file><path></path></read_file>', expect: err('invalid_param', 'path') },
  { name: 'path too long', reply: `<read_file><path>${'a'.repeat(2000)}</path></read_file>`, expect: err('invalid_param', 'path') },
  { name: 'search query empty', reply: '<search_files><query></query></search_files>', expect: err('invalid_param', 'query') },
];

/** One generated case per tool and per noise: every example we teach must parse back to itself. */
for (const spec of SPECS) {
  const example = renderExample(spec);
  const expected = ok(spec.name);
  CASES.push({ name: `example of ${spec.name}`, reply: example, expect: expected });
  CASES.push({ name: `example of ${spec.name} in a fence with prose`, reply: `Sure.\n\`\`\`xml\n${example}\n\`\`\`\nWaiting for the result.`, expect: expected });
  CASES.push({ name: `example of ${spec.name} with CRLF after thinking`, reply: `<think>ok</think>\r\n${example.replace(/\n/g, '\r\n')}`, expect: expected });
  const required = Object.keys(spec.input.shape).filter(k => !spec.input.shape[k]!.safeParse(undefined).success);
  if (required.length) {
    const without = example.replace(new RegExp(`<${required[0]}>[\\s\\S]*?</${required[0]}>\\n?`), '');
    CASES.push({ name: `${spec.name} without "${required[0]}"`, reply: without, expect: err('missing_param', `"${required[0]}"`) });
  }
}
