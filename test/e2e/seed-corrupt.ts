/**
 * Seeds a damaged database for the UI check of the error state: the extension must refuse it, say so in
 * its views, and leave the file exactly as it was.
 *   node out/test/e2e/seed-corrupt.js <globalStorageDir> <workspaceDir>
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const GARBAGE = 'AI2AI e2e: this is not a SQLite database\n'.repeat(64);

if (require.main === module) {
  const [storageDir] = process.argv.slice(2);
  if (!storageDir) throw new Error('usage: seed-corrupt.js <globalStorageDir> <workspaceDir>');
  fs.mkdirSync(storageDir, { recursive: true });
  fs.writeFileSync(path.join(storageDir, 'ai2ai.sqlite'), GARBAGE);
  process.stdout.write(`wrote a damaged ai2ai.sqlite (${GARBAGE.length} bytes) in ${storageDir}\n`);
}
