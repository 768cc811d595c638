import * as fs from 'fs';
import type { Disposable } from '../events';
import type { Logger } from '../ports';

/**
 * Calls `onChange` (debounced) when `fileName` in `dir` changes. Watches the folder, not the file:
 * compaction renames a new journal over the old one, which a watch on the file would lose. Failures are
 * logged; other windows' changes then still arrive with the next local write, which catches up first.
 */
export function watchFile(dir: string, fileName: string, debounceMs: number, onChange: () => void, logger: Logger): Disposable {
  let timer: NodeJS.Timeout | undefined;
  let watcher: fs.FSWatcher | undefined;
  let disposed = false;
  try {
    // persistent:false so a forgotten store never keeps a process alive.
    watcher = fs.watch(dir, { persistent: false }, (_event, name) => {
      if ((name && name.toString() !== fileName) || timer || disposed) return;
      timer = setTimeout(() => {
        timer = undefined;
        if (disposed) return;
        try {
          onChange();
        } catch (e) {
          logger.error(`storage: catching up with other windows failed`, e);
        }
      }, debounceMs);
      timer.unref();
    });
    watcher.on('error', e => logger.warn(`storage: watching ${dir} failed; other windows' changes show up on the next write`, e));
  } catch (e) {
    logger.warn(`storage: cannot watch ${dir}; other windows' changes show up on the next write`, e);
  }
  return {
    dispose() {
      disposed = true;
      if (timer) clearTimeout(timer);
      try {
        watcher?.close();
      } catch {
        // already closed
      }
    },
  };
}
