import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AppError } from '../../../src/core/errors';
import { PathSandbox } from '../../../src/core/workspace/sandbox';
import { fixture } from '../tools/helpers';

/** Small models repeat the folder their prompt names (`agents/ada/src/add.js`): that means the file in the folder. */
describe('PathSandbox: paths that start with the agent folder', () => {
  let ws: string;
  let ada: string;
  let sb: PathSandbox;
  beforeEach(() => {
    ws = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'ai2ai-own-')));
    ada = path.join(ws, 'agents', 'ada');
    fs.mkdirSync(path.join(ada, 'src'), { recursive: true });
    sb = new PathSandbox({ workspaceRoots: [ws], writeRoot: ada, caseInsensitive: false });
  });
  afterEach(() => fs.rmSync(ws, { recursive: true, force: true }));

  for (const p of ['agents/ada/src/add.js', './agents/ada/src/add.js', 'agents\\ada\\src\\add.js']) {
    it(`${JSON.stringify(p)} resolves inside the folder, for writing and reading`, () => {
      assert.equal(sb.writeRootLabel, 'agents/ada/');
      assert.equal(sb.resolveWrite(p), path.join(ada, 'src', 'add.js'));
      assert.equal(sb.resolveRead(p), path.join(ada, 'src', 'add.js'));
    });
  }

  it('the folder label alone is the folder (listing it works; writing it is refused as before)', () => {
    assert.equal(sb.resolveRead('agents/ada'), ada);
    assert.throws(() => sb.resolveWrite('agents/ada/'), (e: unknown) => AppError.is(e, 'path_escape') && /your folder itself/.test(e.message));
  });

  it('other paths are untouched: a sibling agent, a prefix that is not a whole segment, a real subfolder of that name', () => {
    assert.equal(sb.resolveWrite('src/add.js'), path.join(ada, 'src', 'add.js'));
    assert.equal(sb.resolveWrite('agents/adam/x.js'), path.join(ada, 'agents', 'adam', 'x.js'));
    assert.throws(() => sb.resolveWrite('../bob/x.js'), (e: unknown) => AppError.is(e, 'path_escape'));
    fs.mkdirSync(path.join(ada, 'agents'));
    assert.equal(sb.resolveWrite('agents/ada/src/add.js'), path.join(ada, 'agents', 'ada', 'src', 'add.js'), 'a real subfolder wins');
  });

  it('case-folded on a case-insensitive file system', () => {
    const ci = new PathSandbox({ workspaceRoots: [ws], writeRoot: ada, caseInsensitive: true });
    assert.equal(ci.resolveWrite('Agents/Ada/src/add.js'), path.join(ada, 'src', 'add.js'));
  });

  it('write_file with the folder repeated writes agents/alice/src/add.js, not agents/alice/agents/alice/src/add.js', async () => {
    const f = fixture();
    try {
      const r = await f.run('write_file', { path: 'agents/alice/src/add.js', content: 'module.exports = 1;\n' });
      assert.equal(r.ok, true, r.output);
      assert.equal(fs.readFileSync(path.join(f.dir, 'src', 'add.js'), 'utf8'), 'module.exports = 1;\n');
      assert.equal(fs.existsSync(path.join(f.dir, 'agents')), false);
    } finally {
      f.cleanup();
    }
  });
});
