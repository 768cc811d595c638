/**
 * The file-system port for agent workspaces. Core asks for these few operations; the Node
 * implementation below serves both the extension host and tests (real files, never a mock).
 */
import * as fs from 'node:fs';

export interface FileSystemPort {
  exists(path: string): Promise<boolean>;
  isDirectory(path: string): Promise<boolean>;
  mkdir(path: string): Promise<void>;
  /** Writes only if the file does not exist yet; returns whether it wrote. */
  writeFileIfMissing(path: string, content: string): Promise<boolean>;
  realpath(path: string): Promise<string>;
}

export const nodeFileSystem: FileSystemPort = {
  async exists(p) {
    try {
      await fs.promises.lstat(p);
      return true;
    } catch {
      return false;
    }
  },
  async isDirectory(p) {
    try {
      return (await fs.promises.stat(p)).isDirectory();
    } catch {
      return false;
    }
  },
  async mkdir(p) {
    await fs.promises.mkdir(p, { recursive: true });
  },
  async writeFileIfMissing(p, content) {
    try {
      await fs.promises.writeFile(p, content, { flag: 'wx' });
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    }
  },
  realpath: p => fs.promises.realpath(p),
};
