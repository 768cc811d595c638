/**
 * Review findings written as text: how a small model on the text protocol gives them, and how a person's
 * "Request Changes" comments are read. Apart from the reviewer's tools so the application layer can read
 * them without loading the tools.
 */
import { jsonOrLines, type Finding } from './types';

/** One finding as a line: `path:line [severity] comment`, `path: comment`, or `path (severity) comment`. */
export function parseFindingLine(line: string): Finding {
  // A file looks like a path (a dot or a slash in it); anything else is a general remark.
  const m = line.match(/^([^\s:[\]()]*[./][^\s:[\]()]*?)(?::(\d+))?\s*(?:[[(](blocker|major|minor|nit)[\])])?\s*[:—-]?\s+(.+)$/i);
  if (m) return { file: m[1], line: m[2] ? Number(m[2]) : undefined, severity: (m[3]?.toLowerCase() as Finding['severity']) ?? 'major', comment: m[4].trim() };
  return { file: '(general)', severity: 'major', comment: line };
}

/** Findings written one per line (list markers allowed). */
export function parseFindingLines(text: string): Finding[] {
  return jsonOrLines(parseFindingLine)(text) as Finding[];
}
