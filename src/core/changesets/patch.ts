/**
 * A proposed change as a unified diff, made with the `diff` package (jsdiff). Only the API's change diff asks
 * for one, so `ChangeSetService.diff` loads this module on first use (dist/diff.js in the extension).
 */
import { createTwoFilesPatch } from 'diff';

export function proposalPatch(path: string, before: string | null, after: string | null): string {
  return createTwoFilesPatch(`a/${path}`, after === null ? '/dev/null' : `b/${path}`, before ?? '', after ?? '', undefined, undefined, { context: 3 });
}
