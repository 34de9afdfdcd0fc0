-- The OTC domain's tables: FINRA OTC weekly transparency data, from raw
-- capture (otc_raw) through normalized venue volume to weekly summaries.
-- Dates are TEXT YYYY-MM-DD; decimals are TEXT with exactly two places
-- (exact half-even rounding is done in Rust, not in floating point).

-- otc_raw and otc_venue_volume are views, with every column of the domain's
-- spec, over tables that keep once what is the same for every row of a run
-- (the execution, the file name, the time) instead of a million times, the
-- record hash once, as its 16 bytes, and a known tier as a number. A load
-- writes every byte twice in WAL mode (the WAL, then the checkpoint); this
-- halves the bytes of 10^6 FINRA lines.

-- One row per file that an otc.ingest run read.
CREATE TABLE otc_raw_files (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    batch_id    TEXT    NOT NULL,      -- the otc.ingest execution id
    source_file TEXT    NOT NULL,
    ingested_at TEXT    NOT NULL
);

-- One row per accepted input line. Append-only. Text is stored trimmed.
-- AUTOINCREMENT: otc.normalize remembers the last id it processed, so ids
-- must never be reused, even after an operator deletes the newest rows.
-- NOT NULL ... ON CONFLICT FAIL: a NULL still fails the statement, and so
-- the run, but SQLite then needs no statement journal for a multi-row
-- INSERT (with ABORT it copies every page it touches first, to be able to
-- undo the statement alone).
CREATE TABLE otc_raw_lines (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    file_id          INTEGER NOT NULL ON CONFLICT FAIL,  -- otc_raw_files.id
    line_number      INTEGER NOT NULL ON CONFLICT FAIL,
    record_hash      BLOB    NOT NULL ON CONFLICT FAIL,  -- 16 bytes; the views show 32 hex digits
    week_ending      TEXT    NOT NULL ON CONFLICT FAIL,  -- Friday of the trading week
    last_update_date TEXT    NOT NULL ON CONFLICT FAIL,  -- FINRA's lastUpdateDate, as published
    -- 1, 2, 3 for NMS Tier 1, NMS Tier 2, OTC (the view shows the names), an
    -- unknown tier as written. No type, so no affinity turns text into a
    -- number: a tier written "1" stays text, and unknown.
    tier                     NOT NULL ON CONFLICT FAIL,
    symbol           TEXT    NOT NULL ON CONFLICT FAIL,
    issue_name       TEXT    NOT NULL ON CONFLICT FAIL,
    venue_name       TEXT    NOT NULL ON CONFLICT FAIL,
    mpid             TEXT    NOT NULL ON CONFLICT FAIL,
    share_volume     INTEGER NOT NULL ON CONFLICT FAIL,
    trade_count      INTEGER NOT NULL ON CONFLICT FAIL,
    -- share_volume / trade_count as otc_venue_volume keeps it, computed at
    -- ingest, where the line is in hand anyway; NULL with no trades or a
    -- negative figure. otc.normalize copies it.
    avg_trade_size   TEXT,
    -- A line is a duplicate when its record hash is already stored. The hash
    -- covers week_ending, tier and symbol, so leading the key with them
    -- enforces exactly that, and puts a new week's lines at the end of the
    -- index, in file order, instead of at random places in an index the size
    -- of the whole history: 2-2.5x faster for 10^6 lines, and flat as the
    -- history grows.
    UNIQUE (week_ending, tier, symbol, record_hash)
);

-- The lines otc.normalize does not move with its one INSERT ... SELECT:
-- those its checks may reject. Usually empty, so it costs ingest almost
-- nothing and spares normalize a scan of the new lines.
-- The condition is normalize.rs's SQL_CHECKED, word for word. (ORs, not
-- IN: SQLite builds the list of an IN afresh for every row it indexes.)
CREATE INDEX otc_raw_lines_unchecked ON otc_raw_lines (id)
    WHERE NOT ((tier = 1 OR tier = 2 OR tier = 3) AND symbol <> '' AND mpid <> ''
               AND share_volume >= 0 AND trade_count >= 0 AND (trade_count > 0 OR share_volume = 0)
               AND (avg_trade_size IS NOT NULL OR trade_count = 0));

-- The raw capture: one row per accepted input line, as read.
CREATE VIEW otc_raw AS
SELECT line.id, file.batch_id, lower(hex(line.record_hash)) AS record_hash, line.week_ending,
       line.last_update_date,
       CASE line.tier WHEN 1 THEN 'NMS Tier 1' WHEN 2 THEN 'NMS Tier 2' WHEN 3 THEN 'OTC' ELSE line.tier END
           AS tier,
       line.symbol, line.issue_name, line.venue_name, line.mpid,
       line.share_volume, line.trade_count, file.source_file, line.line_number, file.ingested_at
FROM otc_raw_lines AS line JOIN otc_raw_files AS file ON file.id = line.file_id;

-- One row per otc.normalize run that had rows to process.
CREATE TABLE otc_normalize_runs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    execution_id  TEXT    NOT NULL,
    normalized_at TEXT    NOT NULL
);

-- Normalized volume, one row per (week, tier, symbol, venue). A revision
-- replaces the figures; raw_id says which raw line they are from, run_id
-- which normalize run put them there.
-- WITHOUT ROWID: the key is the table, in the order otc.summarize reads a
-- week, with no second B-tree to write.
CREATE TABLE otc_venue_figures (
    week_ending      TEXT    NOT NULL,
    tier             TEXT    NOT NULL,  -- canonical: NMS Tier 1, NMS Tier 2, OTC
    symbol           TEXT    NOT NULL,
    mpid             TEXT    NOT NULL,
    share_volume     INTEGER NOT NULL,
    trade_count      INTEGER NOT NULL,
    avg_trade_size   TEXT,              -- NULL when trade_count is 0
    raw_id           INTEGER NOT NULL,  -- otc_raw_lines.id
    last_update_date TEXT    NOT NULL,  -- decides which revision wins
    run_id           INTEGER NOT NULL,  -- otc_normalize_runs.id
    PRIMARY KEY (week_ending, tier, symbol, mpid)
) WITHOUT ROWID;

-- Normalized volume with the record hash of its raw line and the time it
-- was normalized.
CREATE VIEW otc_venue_volume AS
SELECT venue.week_ending, venue.tier, venue.symbol, venue.mpid, venue.share_volume, venue.trade_count,
       venue.avg_trade_size, lower(hex(line.record_hash)) AS record_hash, venue.raw_id,
       venue.last_update_date, run.normalized_at
FROM otc_venue_figures AS venue
    LEFT JOIN otc_raw_lines AS line ON line.id = venue.raw_id
    LEFT JOIN otc_normalize_runs AS run ON run.id = venue.run_id;

CREATE TABLE otc_symbol_summary (
    week_ending    TEXT    NOT NULL,
    tier           TEXT    NOT NULL,
    symbol         TEXT    NOT NULL,
    total_volume   INTEGER NOT NULL,
    total_trades   INTEGER NOT NULL,
    venue_count    INTEGER NOT NULL,
    avg_trade_size TEXT,                -- NULL when total_trades is 0
    computed_at    TEXT    NOT NULL,
    PRIMARY KEY (week_ending, tier, symbol)
) WITHOUT ROWID;

-- tier is a canonical tier, or 'ALL' for the share across tiers.
CREATE TABLE otc_venue_share (
    week_ending      TEXT    NOT NULL,
    tier             TEXT    NOT NULL,
    mpid             TEXT    NOT NULL,
    total_volume     INTEGER NOT NULL,
    total_trades     INTEGER NOT NULL,
    symbol_count     INTEGER NOT NULL,
    market_share_pct TEXT    NOT NULL,
    rank             INTEGER NOT NULL,
    computed_at      TEXT    NOT NULL,
    PRIMARY KEY (week_ending, tier, mpid)
) WITHOUT ROWID;

-- Every line or record that was not accepted, and why.
CREATE TABLE otc_rejects (
    id           INTEGER PRIMARY KEY,
    execution_id TEXT    NOT NULL,
    stage        TEXT    NOT NULL CHECK (stage IN ('parse', 'normalize')),
    source_file  TEXT    NOT NULL,
    line_number  INTEGER NOT NULL,
    raw_line     TEXT    NOT NULL,      -- truncated to 500 characters
    reason       TEXT    NOT NULL,
    raw_id       INTEGER,               -- the otc_raw row, for normalize rejects
    rejected_at  TEXT    NOT NULL
);
CREATE INDEX otc_rejects_by_execution ON otc_rejects (execution_id);

-- Weeks whose venue volume changed since they were last summarized.
CREATE TABLE otc_changed_weeks (
    week_ending TEXT PRIMARY KEY,
    changed_at  TEXT NOT NULL
);

-- How far each incremental stage has read otc_raw (by id).
CREATE TABLE otc_watermarks (
    stage  TEXT    PRIMARY KEY,
    raw_id INTEGER NOT NULL
);
