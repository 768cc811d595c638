/**
 * Prepared statements kept per SQL text. Re-preparing costs more than the insert itself in sql.js, and
 * repositories use a handful of fixed statements, so a small LRU covers them all.
 */
import type { Database, Statement } from 'sql.js';
import type { Row, SqlValue } from './types';

const CAPACITY = 128;

export class StatementCache {
  private readonly map = new Map<string, Statement>();

  constructor(private readonly db: () => Database) {}

  private get(sql: string): Statement {
    let st = this.map.get(sql);
    if (st) {
      // Map order is insertion order: re-inserting keeps the most used statements away from eviction.
      this.map.delete(sql);
    } else {
      st = this.db().prepare(sql);
      if (this.map.size >= CAPACITY) {
        const [oldSql, old] = this.map.entries().next().value as [string, Statement];
        this.map.delete(oldSql);
        old.free();
      }
    }
    this.map.set(sql, st);
    return st;
  }

  /** Runs one statement (only the first, if the text holds several); returns rows changed. */
  run(sql: string, params: readonly SqlValue[]): number {
    const st = this.get(sql);
    try {
      st.run(params as SqlValue[]);
    } finally {
      st.reset();
    }
    return this.db().getRowsModified();
  }

  all<T extends Row>(sql: string, params: readonly SqlValue[] = [], first = false): T[] {
    const st = this.get(sql);
    const rows: T[] = [];
    try {
      st.bind(params as SqlValue[]);
      while (st.step()) {
        rows.push(st.getAsObject() as T);
        if (first) break;
      }
    } finally {
      st.reset();
    }
    return rows;
  }

  /** Before the database is closed or replaced: statements belong to one database. */
  clear(): void {
    for (const st of this.map.values()) st.free();
    this.map.clear();
  }
}
