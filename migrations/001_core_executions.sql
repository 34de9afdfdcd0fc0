-- Every pipeline execution the dispatcher ran, written outside the
-- pipeline's own transaction so that failures are recorded too.
CREATE TABLE core_executions (
    id             TEXT PRIMARY KEY,          -- UUIDv7: unique and time-ordered
    pipeline       TEXT NOT NULL,
    params         TEXT NOT NULL,             -- JSON object, after validation
    lane           TEXT NOT NULL CHECK (lane IN ('normal', 'backfill', 'slow')),
    trigger_source TEXT NOT NULL CHECK (trigger_source IN ('cli', 'api', 'scheduler', 'retry', 'manual')),
    logical_key    TEXT,
    status         TEXT NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    created_at     TEXT NOT NULL,             -- RFC 3339, UTC
    started_at     TEXT,
    completed_at   TEXT,
    duration_ms    INTEGER,
    metrics        TEXT,                      -- JSON object reported by the pipeline
    error          TEXT,
    plugin_domain  TEXT NOT NULL,
    plugin_version TEXT NOT NULL,
    host_pid       INTEGER NOT NULL
);

CREATE INDEX core_executions_by_pipeline ON core_executions (pipeline, created_at);
CREATE INDEX core_executions_running ON core_executions (status, logical_key) WHERE status = 'running';
