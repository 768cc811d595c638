/**
 * Numbered schema migrations, applied in order when the database opens; the number reached is kept in
 * `meta.schema_version`. Never edit a released migration: add the next one.
 */
export interface Migration {
  version: number;
  description: string;
  statements: readonly string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'providers, agents, tasks, dependencies, updates, messages, runs',
    statements: [
      `CREATE TABLE providers (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('ollama','openai')),
        name TEXT NOT NULL,
        base_url TEXT NOT NULL,
        max_concurrency INTEGER NOT NULL DEFAULT 1,
        created_at INTEGER NOT NULL
      )`,
      `CREATE TABLE agents (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        role TEXT NOT NULL,
        skills TEXT NOT NULL DEFAULT '[]',
        provider_id TEXT NOT NULL REFERENCES providers(id),
        model TEXT NOT NULL,
        settings TEXT NOT NULL DEFAULT '{}',
        enabled INTEGER NOT NULL DEFAULT 1,
        status TEXT NOT NULL DEFAULT 'ready',
        status_reason TEXT,
        workspace TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      )`,
      `CREATE TABLE tasks (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        required_skills TEXT NOT NULL DEFAULT '[]',
        priority INTEGER NOT NULL DEFAULT 1,
        status TEXT NOT NULL DEFAULT 'pending',
        assignee_id TEXT REFERENCES agents(id) ON DELETE SET NULL,
        parent_id TEXT REFERENCES tasks(id) ON DELETE CASCADE,
        review_of TEXT REFERENCES tasks(id) ON DELETE SET NULL,
        attachments TEXT NOT NULL DEFAULT '[]',
        result TEXT,
        failure_reason TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        lease_owner TEXT,
        lease_expires_at INTEGER,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        started_at INTEGER,
        completed_at INTEGER
      )`,
      `CREATE INDEX tasks_status ON tasks(status)`,
      `CREATE INDEX tasks_assignee ON tasks(assignee_id)`,
      `CREATE TABLE task_deps (
        task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
        depends_on_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
        PRIMARY KEY (task_id, depends_on_id)
      )`,
      `CREATE TABLE task_updates (
        id TEXT PRIMARY KEY,
        task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
        agent_id TEXT REFERENCES agents(id) ON DELETE SET NULL,
        kind TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at INTEGER NOT NULL
      )`,
      `CREATE INDEX task_updates_task ON task_updates(task_id, created_at)`,
      `CREATE TABLE messages (
        id TEXT PRIMARY KEY,
        task_id TEXT REFERENCES tasks(id) ON DELETE CASCADE,
        from_agent TEXT REFERENCES agents(id) ON DELETE SET NULL,
        to_agent TEXT REFERENCES agents(id) ON DELETE SET NULL,
        body TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        read_at INTEGER
      )`,
      `CREATE INDEX messages_to ON messages(to_agent, read_at)`,
      `CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
        agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
        started_at INTEGER NOT NULL,
        ended_at INTEGER,
        outcome TEXT NOT NULL DEFAULT 'running',
        reason TEXT,
        steps INTEGER NOT NULL DEFAULT 0,
        prompt_tokens INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        model_ms REAL NOT NULL DEFAULT 0,
        tests_passed INTEGER NOT NULL DEFAULT 0,
        tests_failed INTEGER NOT NULL DEFAULT 0,
        transcript TEXT
      )`,
      `CREATE INDEX runs_agent ON runs(agent_id, started_at)`,
      `INSERT INTO providers (id, kind, name, base_url, max_concurrency, created_at)
        VALUES ('ollama-local', 'ollama', 'Ollama (this machine)', 'http://127.0.0.1:11434', 1, 0)`,
    ],
  },
  {
    version: 2,
    description: 'a test command per task',
    statements: ['ALTER TABLE tasks ADD COLUMN test_command TEXT'],
  },
  {
    version: 3,
    description: 'which process runs a run (host:pid), to recover runs whose window died',
    statements: ['ALTER TABLE runs ADD COLUMN owner TEXT'],
  },
  {
    version: 4,
    description: 'change log, run provider/model/error kind/resume, assignment reasons',
    statements: [
      // The exact change records of each mutation, so every window (and API clients resuming) gets deltas.
      'CREATE TABLE change_log (seq INTEGER PRIMARY KEY, changes TEXT NOT NULL)',
      // Which provider and model served a run: slots are counted from these rows, across windows.
      'ALTER TABLE runs ADD COLUMN provider_id TEXT',
      'ALTER TABLE runs ADD COLUMN model TEXT',
      // A stable classification (model_not_found, unreachable, ...) so no front end matches text.
      'ALTER TABLE runs ADD COLUMN error_kind TEXT',
      // The interrupted run this one resumed from.
      'ALTER TABLE runs ADD COLUMN resumed_from TEXT',
      // Prompt tokens the server reported as served from its cache.
      'ALTER TABLE runs ADD COLUMN cached_tokens INTEGER NOT NULL DEFAULT 0',
      'CREATE INDEX runs_open ON runs(outcome, provider_id, model)',
      // Why the scheduler (or the user) chose the assignee: shown on the task.
      'ALTER TABLE tasks ADD COLUMN assign_reason TEXT',
      'CREATE INDEX tasks_lease ON tasks(status, lease_expires_at)',
    ],
  },
  {
    version: 5,
    description: 'runs outlive their agent (with its name); what each provider and model said about native tool calls',
    statements: [
      // Migration 1 made runs.agent_id cascade, so deleting an agent erased its runs from every task's
      // history. SQLite cannot drop a foreign key: the table is rebuilt without it, keeping every row in
      // order, and the agent's name is kept on the run for when the agent is gone.
      `CREATE TABLE runs_v5 (
        id TEXT PRIMARY KEY,
        task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
        agent_id TEXT NOT NULL,
        agent_name TEXT,
        started_at INTEGER NOT NULL,
        ended_at INTEGER,
        outcome TEXT NOT NULL DEFAULT 'running',
        reason TEXT,
        steps INTEGER NOT NULL DEFAULT 0,
        prompt_tokens INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        model_ms REAL NOT NULL DEFAULT 0,
        tests_passed INTEGER NOT NULL DEFAULT 0,
        tests_failed INTEGER NOT NULL DEFAULT 0,
        transcript TEXT,
        owner TEXT,
        provider_id TEXT,
        model TEXT,
        error_kind TEXT,
        resumed_from TEXT,
        cached_tokens INTEGER NOT NULL DEFAULT 0
      )`,
      `INSERT INTO runs_v5 (id, task_id, agent_id, agent_name, started_at, ended_at, outcome, reason, steps, prompt_tokens, completion_tokens,
         model_ms, tests_passed, tests_failed, transcript, owner, provider_id, model, error_kind, resumed_from, cached_tokens)
       SELECT r.id, r.task_id, r.agent_id, a.name, r.started_at, r.ended_at, r.outcome, r.reason, r.steps, r.prompt_tokens, r.completion_tokens,
         r.model_ms, r.tests_passed, r.tests_failed, r.transcript, r.owner, r.provider_id, r.model, r.error_kind, r.resumed_from, r.cached_tokens
         FROM runs r LEFT JOIN agents a ON a.id = r.agent_id ORDER BY r.rowid`,
      'DROP TABLE runs',
      'ALTER TABLE runs_v5 RENAME TO runs',
      'CREATE INDEX runs_agent ON runs(agent_id, started_at)',
      'CREATE INDEX runs_open ON runs(outcome, provider_id, model)',
      'CREATE INDEX runs_task ON runs(task_id, started_at)',
      // A model that answered "does not support tools" on a provider: later runs start with the text
      // protocol instead of meeting the same 400 first. Forgotten when the provider's URL changes.
      `CREATE TABLE model_tool_support (
        provider_id TEXT NOT NULL REFERENCES providers(id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        native_tools INTEGER NOT NULL,
        reason TEXT,
        noted_at INTEGER NOT NULL,
        PRIMARY KEY (provider_id, model)
      )`,
    ],
  },
  {
    version: 6,
    description: 'reviews: verdicts with findings, review rounds, what each run changed; escalation',
    statements: [
      `CREATE TABLE reviews (
        id TEXT PRIMARY KEY,
        task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
        review_task_id TEXT,
        round INTEGER NOT NULL,
        author_id TEXT,
        reviewer_id TEXT,
        reviewer_name TEXT NOT NULL,
        verdict TEXT NOT NULL CHECK (verdict IN ('approve','request_changes')),
        summary TEXT NOT NULL DEFAULT '',
        findings TEXT NOT NULL DEFAULT '[]',
        created_at INTEGER NOT NULL
      )`,
      'CREATE INDEX reviews_task ON reviews(task_id, round)',
      // NULL: follow ai2ai.review.required; 1 or 0: this task's own choice.
      'ALTER TABLE tasks ADD COLUMN review_required INTEGER',
      'ALTER TABLE tasks ADD COLUMN review_round INTEGER NOT NULL DEFAULT 0',
      // The unified diff (a file beside the database) of what a run changed in its agent's folder.
      'ALTER TABLE runs ADD COLUMN diff TEXT',
      'CREATE INDEX tasks_review_of ON tasks(review_of)',
      // The agent a stuck run was escalated from (a task escalates once).
      'ALTER TABLE tasks ADD COLUMN escalated_from TEXT',
    ],
  },
  {
    version: 7,
    description: 'change sets: agents\' proposed changes to attached files outside their folders',
    statements: [
      `CREATE TABLE file_changes (
        id TEXT PRIMARY KEY,
        task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
        agent_id TEXT REFERENCES agents(id) ON DELETE SET NULL,
        run_id TEXT,
        path TEXT NOT NULL,
        before TEXT,
        after TEXT,
        status TEXT NOT NULL,
        conflict TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        UNIQUE (task_id, path)
      )`,
    ],
  },
  {
    version: 8,
    description: "a provider kind for VS Code's own language models",
    statements: [
      // SQLite cannot alter a CHECK: rebuild the table under its own name. With the foreign keys deferred, the
      // agents' references count as broken while the table is gone and as mended when their rows return.
      'PRAGMA defer_foreign_keys = ON',
      'CREATE TEMP TABLE providers_v7 AS SELECT id, kind, name, base_url, max_concurrency, created_at FROM providers',
      'DROP TABLE providers',
      `CREATE TABLE providers (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('ollama','openai','vscode')),
        name TEXT NOT NULL,
        base_url TEXT NOT NULL,
        max_concurrency INTEGER NOT NULL DEFAULT 1,
        created_at INTEGER NOT NULL
      )`,
      'INSERT INTO providers (id, kind, name, base_url, max_concurrency, created_at) SELECT id, kind, name, base_url, max_concurrency, created_at FROM providers_v7',
      'DROP TABLE providers_v7',
    ],
  },
  {
    version: 9,
    description: "a run's model time split into prompt evaluation and generation, for tokens per second of each; indexes for the dashboard",
    statements: [
      // Parts of model_ms where the server reports them apart (Ollama, llama.cpp); 0 where it does not.
      'ALTER TABLE runs ADD COLUMN prompt_ms REAL NOT NULL DEFAULT 0',
      'ALTER TABLE runs ADD COLUMN eval_ms REAL NOT NULL DEFAULT 0',
      // The dashboard's per-agent figures and its timeline of recent runs (core/app/stats.ts).
      'CREATE INDEX runs_agent_outcome ON runs(agent_id, outcome)',
      'CREATE INDEX runs_started ON runs(started_at)',
    ],
  },
  {
    version: 10,
    description: 'escalation to a stronger model: the model (and provider) a task is retried with',
    statements: ["ALTER TABLE tasks ADD COLUMN model_override TEXT"],
  },
];

export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;
