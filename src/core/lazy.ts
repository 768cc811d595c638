/**
 * Parts that only some commands need (the agent runner, the dashboard's and the task view's renderers) are
 * loaded with `import()` where they are first used. Under plain Node that loads the module; the extension's
 * build (esbuild.mjs) turns each such import into a `require` of the part's own file beside the bundle
 * (dist/runs.js, …), so activating the extension never reads them. A missing file is a broken install:
 * `loadPart` says which part and what to do instead of a bare "Cannot find module".
 */
import { AppError, errorMessage } from './errors';

export async function loadPart<T>(part: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (e) {
    if ((e as { code?: unknown } | undefined)?.code !== 'MODULE_NOT_FOUND') throw e;
    throw new AppError(
      'internal',
      `AI2AI could not load ${part}: a file of the extension is missing (${errorMessage(e).split('\n')[0]}). Reinstall the AI2AI extension.`,
      undefined,
      { cause: e },
    );
  }
}
