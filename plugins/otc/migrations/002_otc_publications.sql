-- 002: the OTC tables, round two, as one upgrade of databases that may hold
-- 10^8 lines: each table is rebuilt at most once, and what the first
-- version stored stays (its ATS results read the same).
--
-- Publications. A duplicate is the same record hash published on the same
-- lastUpdateDate; the same content in a later publication is that
-- publication's word and is stored. otc.normalize keeps, per key, the row
-- with the latest lastUpdateDate, and between two rows of one day the greater
-- record hash, so the tables never depend on the order files were loaded in.
--
-- Bounds. A row with more than 10^14 shares or 10^12 trades is a corrupt
-- file, and otc.normalize rejects it; rows 001 accepted beyond them move to
-- otc_rejects here, and their keys fall back on their other rows.
--
-- Non-ATS venues. A line without an MPID is a non-ATS row: its venue is the
-- firm's name (marketParticipantName), its hash covers `NON_ATS:` and that
-- name, and `De Minimis Firms` is the aggregate of the small firms. Venue
-- tables carry venue_type (ATS | NON_ATS) and venue in their keys, and
-- summaries never mix the two. 001 rejected such lines ("expected an MPID"):
-- they get their hash from the next otc.ingest or otc.normalize (SQL has no
-- SHA-256) and load at the next otc.normalize, without reading files again.
--
-- Numbers users sort are numbers: averages and percentages, computed exactly
-- and rounded half-even in Rust, are no longer text. The summary tables
-- store them as REAL (the nearest double, which reads back as the same two
-- places); the tables of 10^8 rows store whole hundredths, 2-3 bytes instead
-- of 8, and their views divide by 100.0, which gives that same double.
--
-- Dates are TEXT YYYY-MM-DD.

-- The lines 001 stored without an MPID: the only lines whose hash changes.
-- 001's partial index holds them (its checks refused an empty MPID).
CREATE TABLE otc_raw_rehash (raw_id INTEGER PRIMARY KEY);
INSERT INTO otc_raw_rehash (raw_id)
SELECT id FROM otc_raw_lines INDEXED BY otc_raw_lines_unchecked
WHERE NOT ((tier = 1 OR tier = 2 OR tier = 3) AND symbol <> '' AND mpid <> ''
           AND share_volume >= 0 AND trade_count >= 0 AND (trade_count > 0 OR share_volume = 0)
           AND (avg_trade_size IS NOT NULL OR trade_count = 0))
    AND mpid = '';

-- The views name the tables rebuilt below.
DROP VIEW otc_raw;
DROP VIEW otc_venue_volume;
DROP INDEX otc_raw_lines_unchecked;

-- otc_raw_lines again: its unique key is now the publication's, and the
-- average a number. SQLite cannot change a table's constraints in place: the
-- rows are copied in id order and the indexes built once at the end (faster
-- than row by row).
CREATE TABLE otc_raw_lines_002 (
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
    venue_name       TEXT    NOT NULL ON CONFLICT FAIL,  -- marketParticipantName
    mpid             TEXT    NOT NULL ON CONFLICT FAIL,  -- '' on non-ATS lines
    share_volume     INTEGER NOT NULL ON CONFLICT FAIL,
    trade_count      INTEGER NOT NULL ON CONFLICT FAIL,
    -- share_volume / trade_count in hundredths, as otc_venue_volume keeps it,
    -- computed at ingest, where the line is in hand anyway; NULL with no
    -- trades, a negative figure, or one beyond normalize's bounds.
    -- otc.normalize copies it.
    avg_hundredths   INTEGER
);
-- 001's averages were text with two decimals: their digits are the hundredths.
INSERT INTO otc_raw_lines_002
    (id, file_id, line_number, record_hash, week_ending, last_update_date, tier, symbol, issue_name,
     venue_name, mpid, share_volume, trade_count, avg_hundredths)
SELECT id, file_id, line_number, record_hash, week_ending, last_update_date, tier, symbol, issue_name,
       venue_name, mpid, share_volume, trade_count, CAST(replace(avg_trade_size, '.', '') AS INTEGER)
FROM otc_raw_lines ORDER BY id;
-- AUTOINCREMENT: ids are never reused (otc.normalize reads by id), even when
-- the newest rows were deleted. A placeholder at the old high-water mark,
-- inserted and deleted, carries it over to the new table.
INSERT INTO otc_raw_lines_002
    (id, file_id, line_number, record_hash, week_ending, last_update_date, tier, symbol, issue_name,
     venue_name, mpid, share_volume, trade_count)
SELECT seq, 0, 0, X'', '', '', '', '', '', '', '', 0, 0 FROM sqlite_sequence
WHERE name = 'otc_raw_lines' AND seq > (SELECT coalesce(max(id), 0) FROM otc_raw_lines);
DELETE FROM otc_raw_lines_002
WHERE id = (SELECT max(id) FROM otc_raw_lines_002) AND file_id = 0;
DROP TABLE otc_raw_lines;
ALTER TABLE otc_raw_lines_002 RENAME TO otc_raw_lines;

-- One row per published figure: a line is a duplicate when the same record
-- hash was published on the same lastUpdateDate. The venue (the MPID, or for
-- a line without one the participant's name) and the date come before the
-- hash, so the rows of one key and day are neighbours: otc.normalize finds a
-- same-day conflict with one look-up. The hash covers week, tier, symbol and
-- venue, so the key is unique exactly when (record_hash, last_update_date)
-- is. Week, tier and symbol lead: a new week's lines go to the end of the
-- index, in file order, not to random places in the whole history.
CREATE UNIQUE INDEX otc_raw_lines_key ON otc_raw_lines
    (week_ending, tier, symbol, mpid, (CASE mpid WHEN '' THEN venue_name ELSE '' END), last_update_date,
     record_hash);

-- The lines otc.normalize does not move with its one INSERT ... SELECT:
-- those its checks may reject. Usually empty, so it costs ingest almost
-- nothing and spares normalize a scan of the new lines.
-- The condition is normalize.rs's SQL_CHECKED, word for word. (ORs, not
-- IN: SQLite builds the list of an IN afresh for every row it indexes.)
CREATE INDEX otc_raw_lines_unchecked ON otc_raw_lines (id)
    WHERE NOT ((tier = 1 OR tier = 2 OR tier = 3) AND symbol <> '' AND (mpid <> '' OR venue_name <> '')
               AND share_volume >= 0 AND trade_count >= 0 AND (trade_count > 0 OR share_volume = 0)
               AND share_volume <= 100000000000000 AND trade_count <= 1000000000000
               AND (avg_hundredths IS NOT NULL OR trade_count = 0));

-- The raw capture: one row per accepted input line, as read (a non-ATS
-- line's mpid is empty).
CREATE VIEW otc_raw AS
SELECT line.id, file.batch_id, lower(hex(line.record_hash)) AS record_hash, line.week_ending,
       line.last_update_date,
       CASE line.tier WHEN 1 THEN 'NMS Tier 1' WHEN 2 THEN 'NMS Tier 2' WHEN 3 THEN 'OTC' ELSE line.tier END
           AS tier,
       line.symbol, line.issue_name, line.venue_name, line.mpid,
       line.share_volume, line.trade_count, file.source_file, line.line_number, file.ingested_at
FROM otc_raw_lines AS line JOIN otc_raw_files AS file ON file.id = line.file_id;

-- Rows 001 accepted beyond the bounds: each goes to otc_rejects with the
-- reason otc.normalize gives (normalize.rs's check, word for word), its line
-- as normalize writes it, clipped as rejects.rs clips it. The partial index
-- above holds them, among the few rows normalize cannot move.
INSERT INTO otc_rejects
    (execution_id, stage, source_file, line_number, raw_line, reason, raw_id, rejected_at)
SELECT 'otc migration 002', 'normalize', file.source_file, line.line_number,
       CASE WHEN length(line_text) > 500 THEN substr(line_text, 1, 500) || '…' ELSE line_text END,
       CASE WHEN share_volume > 100000000000000
            THEN 'field totalWeeklyShareQuantity: expected at most 100000000000000 shares, found '
                 || share_volume
            ELSE 'field totalWeeklyTradeCount: expected at most 1000000000000 trades, found ' || trade_count
       END,
       line.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
FROM (SELECT id, file_id, line_number, share_volume, trade_count,
             CASE tier WHEN 1 THEN 'NMS Tier 1' WHEN 2 THEN 'NMS Tier 2' WHEN 3 THEN 'OTC' ELSE tier END
                 || '|' || symbol || '|' || issue_name || '|' || venue_name || '|' || mpid || '|'
                 || share_volume || '|' || trade_count || '|' || last_update_date AS line_text
      FROM otc_raw_lines INDEXED BY otc_raw_lines_unchecked
      WHERE id <= (SELECT coalesce(max(raw_id), 0) FROM otc_watermarks WHERE stage = 'normalize')
          -- The index's condition, word for word, lets SQLite read the index.
          AND NOT ((tier = 1 OR tier = 2 OR tier = 3) AND symbol <> '' AND (mpid <> '' OR venue_name <> '')
                   AND share_volume >= 0 AND trade_count >= 0 AND (trade_count > 0 OR share_volume = 0)
                   AND share_volume <= 100000000000000 AND trade_count <= 1000000000000
                   AND (avg_hundredths IS NOT NULL OR trade_count = 0))
          AND (share_volume > 100000000000000 OR trade_count > 1000000000000)
          -- What 001 accepted.
          AND (tier = 1 OR tier = 2 OR tier = 3) AND symbol <> '' AND mpid <> ''
          AND share_volume >= 0 AND trade_count >= 0 AND (trade_count > 0 OR share_volume = 0)
          AND (avg_hundredths IS NOT NULL OR trade_count = 0)) AS line
    JOIN otc_raw_files AS file ON file.id = line.file_id;

-- Normalized volume, one row per (week, tier, symbol, venue type, venue). A
-- revision replaces the figures; raw_id says which raw line they are from
-- (and so its record hash, which with last_update_date decides which
-- revision wins), run_id which normalize run put them there.
-- WITHOUT ROWID: the key is the table, in the order otc.summarize reads a
-- week, with no second B-tree to write.
-- ON CONFLICT FAIL on every constraint (the upsert settles the key's): a
-- violation still fails the statement, and so the run, but SQLite needs no
-- statement journal for the many rows one statement writes.
CREATE TABLE otc_venue_figures_002 (
    week_ending      TEXT    NOT NULL ON CONFLICT FAIL,
    tier             TEXT    NOT NULL ON CONFLICT FAIL,  -- canonical: NMS Tier 1, NMS Tier 2, OTC
    symbol           TEXT    NOT NULL ON CONFLICT FAIL,
    venue_type       INTEGER NOT NULL ON CONFLICT FAIL,  -- 1: ATS, 2: NON_ATS (the view shows the names)
    venue            TEXT    NOT NULL ON CONFLICT FAIL,  -- the MPID, or the non-ATS firm's name
    is_aggregate     INTEGER NOT NULL ON CONFLICT FAIL,  -- 1 on a non-ATS De Minimis Firms row
    share_volume     INTEGER NOT NULL ON CONFLICT FAIL,
    trade_count      INTEGER NOT NULL ON CONFLICT FAIL,
    avg_hundredths   INTEGER,           -- the average trade size × 100; NULL when trade_count is 0
    raw_id           INTEGER NOT NULL ON CONFLICT FAIL,  -- otc_raw_lines.id
    last_update_date TEXT    NOT NULL ON CONFLICT FAIL,
    run_id           INTEGER NOT NULL ON CONFLICT FAIL,  -- otc_normalize_runs.id
    PRIMARY KEY (week_ending, tier, symbol, venue_type, venue) ON CONFLICT FAIL
) WITHOUT ROWID;
-- 001's figures are ATS figures; those the bounds moved out stay out.
INSERT INTO otc_venue_figures_002
    (week_ending, tier, symbol, venue_type, venue, is_aggregate, share_volume, trade_count, avg_hundredths,
     raw_id, last_update_date, run_id)
SELECT week_ending, tier, symbol, 1, mpid, 0, share_volume, trade_count,
       CAST(replace(avg_trade_size, '.', '') AS INTEGER), raw_id, last_update_date, run_id
FROM otc_venue_figures AS venue
WHERE venue.raw_id NOT IN (SELECT raw_id FROM otc_rejects WHERE execution_id = 'otc migration 002')
ORDER BY venue.week_ending, venue.tier, venue.symbol, venue.mpid;
DROP TABLE otc_venue_figures;
ALTER TABLE otc_venue_figures_002 RENAME TO otc_venue_figures;

-- Normalized volume with the record hash of its raw line and the time it
-- was normalized.
CREATE VIEW otc_venue_volume AS
SELECT venue.week_ending, venue.tier, venue.symbol,
       CASE venue.venue_type WHEN 1 THEN 'ATS' ELSE 'NON_ATS' END AS venue_type, venue.venue,
       CASE venue.venue_type WHEN 1 THEN venue.venue END AS mpid, venue.is_aggregate,
       venue.share_volume, venue.trade_count, venue.avg_hundredths / 100.0 AS avg_trade_size,
       lower(hex(line.record_hash)) AS record_hash, venue.raw_id, venue.last_update_date, run.normalized_at
FROM otc_venue_figures AS venue
    LEFT JOIN otc_raw_lines AS line ON line.id = venue.raw_id
    LEFT JOIN otc_normalize_runs AS run ON run.id = venue.run_id;

-- Raw rows whose figures lost to a row of the same key and day with a
-- greater hash, as the upsert replaced them; otc.normalize notes each in
-- otc_rejects and empties this table before its run ends.
CREATE TABLE otc_same_day_losers (raw_id INTEGER PRIMARY KEY);
CREATE TRIGGER otc_venue_figures_same_day AFTER UPDATE OF raw_id ON otc_venue_figures
WHEN OLD.last_update_date = NEW.last_update_date
BEGIN
    INSERT OR IGNORE INTO otc_same_day_losers (raw_id) VALUES (OLD.raw_id);
END;

-- Raw rows at or below otc.normalize's watermark that it must process (again)
-- at its next run: rows this upgrade put back in play.
CREATE TABLE otc_normalize_queue (raw_id INTEGER PRIMARY KEY);

-- Whether a raw row was already rejected at normalize.
CREATE INDEX otc_rejects_by_raw_id ON otc_rejects (raw_id) WHERE raw_id IS NOT NULL;

-- The keys the bounds emptied fall back on their other rows, which go back to
-- otc.normalize (it keeps the best of them), and their weeks to
-- otc.summarize.
INSERT OR IGNORE INTO otc_normalize_queue (raw_id)
SELECT other.id
FROM otc_rejects AS moved
    JOIN otc_raw_lines AS line ON line.id = moved.raw_id
    JOIN otc_raw_lines AS other
        ON other.week_ending = line.week_ending AND other.tier = line.tier AND other.symbol = line.symbol
        AND other.mpid = line.mpid
        AND (CASE other.mpid WHEN '' THEN other.venue_name ELSE '' END)
            = (CASE line.mpid WHEN '' THEN line.venue_name ELSE '' END)
WHERE moved.execution_id = 'otc migration 002'
    AND other.id <= (SELECT coalesce(max(raw_id), 0) FROM otc_watermarks WHERE stage = 'normalize')
    AND (other.tier = 1 OR other.tier = 2 OR other.tier = 3) AND other.symbol <> ''
    AND (other.mpid <> '' OR other.venue_name <> '')
    AND other.share_volume >= 0 AND other.trade_count >= 0
    AND (other.trade_count > 0 OR other.share_volume = 0)
    AND other.share_volume <= 100000000000000 AND other.trade_count <= 1000000000000
    AND (other.avg_hundredths IS NOT NULL OR other.trade_count = 0);

-- Same-day conflicts that 001 settled by load order (the later ingest won):
-- every row of a key and day with more than one row goes back to
-- otc.normalize, which settles them by hash and notes the losers. One pass
-- over the new key, in its order.
INSERT OR IGNORE INTO otc_normalize_queue (raw_id)
SELECT line.id
FROM (SELECT week_ending, tier, symbol, mpid, (CASE mpid WHEN '' THEN venue_name ELSE '' END) AS venue,
             last_update_date
      FROM otc_raw_lines INDEXED BY otc_raw_lines_key
      GROUP BY week_ending, tier, symbol, mpid, (CASE mpid WHEN '' THEN venue_name ELSE '' END),
               last_update_date
      HAVING count(*) > 1) AS same_day
    JOIN otc_raw_lines AS line
        ON line.week_ending = same_day.week_ending AND line.tier = same_day.tier
        AND line.symbol = same_day.symbol AND line.mpid = same_day.mpid
        AND (CASE line.mpid WHEN '' THEN line.venue_name ELSE '' END) = same_day.venue
        AND line.last_update_date = same_day.last_update_date
WHERE line.id <= (SELECT coalesce(max(raw_id), 0) FROM otc_watermarks WHERE stage = 'normalize')
    AND (line.tier = 1 OR line.tier = 2 OR line.tier = 3) AND line.symbol <> ''
    AND (line.mpid <> '' OR line.venue_name <> '')
    AND line.share_volume >= 0 AND line.trade_count >= 0
    AND (line.trade_count > 0 OR line.share_volume = 0)
    AND line.share_volume <= 100000000000000 AND line.trade_count <= 1000000000000
    AND (line.avg_hundredths IS NOT NULL OR line.trade_count = 0);

-- The lines without an MPID that 001's normalize rejected go back to
-- otc.normalize, which loads them as non-ATS rows (or rejects one that names
-- no firm either, with that reason); 001's reject no longer says why.
INSERT OR IGNORE INTO otc_normalize_queue (raw_id)
SELECT raw_id FROM otc_raw_rehash
WHERE raw_id <= (SELECT coalesce(max(raw_id), 0) FROM otc_watermarks WHERE stage = 'normalize');
DELETE FROM otc_rejects
WHERE raw_id IN (SELECT raw_id FROM otc_raw_rehash) AND stage = 'normalize'
    AND reason = 'field MPID: expected an MPID, found an empty field';

-- Summaries per venue type. 001's rows are ATS rows and are kept, their
-- numbers made numbers; the names and the side-by-side table are filled when
-- otc.summarize recomputes their weeks, which are queued for it here.
-- ON CONFLICT FAIL, as otc_venue_figures: no statement journal for the
-- many rows one INSERT writes.
CREATE TABLE otc_symbol_summary_002 (
    week_ending    TEXT    NOT NULL ON CONFLICT FAIL,
    tier           TEXT    NOT NULL ON CONFLICT FAIL,
    symbol         TEXT    NOT NULL ON CONFLICT FAIL,
    venue_type     TEXT    NOT NULL ON CONFLICT FAIL,    -- ATS or NON_ATS
    issue_name     TEXT,                -- from the latest publication
    total_volume   INTEGER NOT NULL ON CONFLICT FAIL,    -- non-ATS totals include De Minimis Firms
    total_trades   INTEGER NOT NULL ON CONFLICT FAIL,
    venue_count    INTEGER NOT NULL ON CONFLICT FAIL,    -- named venues: De Minimis Firms is not one
    avg_trade_size REAL,                -- NULL when total_trades is 0
    computed_at    TEXT    NOT NULL ON CONFLICT FAIL,
    PRIMARY KEY (week_ending, tier, symbol, venue_type) ON CONFLICT FAIL
) WITHOUT ROWID;
INSERT INTO otc_symbol_summary_002
    (week_ending, tier, symbol, venue_type, total_volume, total_trades, venue_count, avg_trade_size,
     computed_at)
SELECT week_ending, tier, symbol, 'ATS', total_volume, total_trades, venue_count,
       CAST(replace(avg_trade_size, '.', '') AS INTEGER) / 100.0, computed_at
FROM otc_symbol_summary;
DROP TABLE otc_symbol_summary;
ALTER TABLE otc_symbol_summary_002 RENAME TO otc_symbol_summary;

-- tier is a canonical tier, or 'ALL' for the share across tiers; shares and
-- ranks are taken within one (week, tier, venue type).
-- ON CONFLICT FAIL, as otc_venue_figures: no statement journal for the
-- many rows one INSERT writes.
CREATE TABLE otc_venue_share_002 (
    week_ending      TEXT    NOT NULL ON CONFLICT FAIL,
    tier             TEXT    NOT NULL ON CONFLICT FAIL,
    venue_type       TEXT    NOT NULL ON CONFLICT FAIL,  -- ATS or NON_ATS
    venue            TEXT    NOT NULL ON CONFLICT FAIL,  -- the MPID, or the non-ATS firm's name
    mpid             TEXT,              -- NULL on non-ATS rows
    venue_name       TEXT,              -- the participant name of the latest publication
    is_aggregate     INTEGER NOT NULL ON CONFLICT FAIL,  -- 1 on the De Minimis Firms row
    total_volume     INTEGER NOT NULL ON CONFLICT FAIL,
    total_trades     INTEGER NOT NULL ON CONFLICT FAIL,
    symbol_count     INTEGER NOT NULL ON CONFLICT FAIL,
    market_share_pct REAL    NOT NULL ON CONFLICT FAIL,
    rank             INTEGER NOT NULL ON CONFLICT FAIL,
    -- The tiers the week holds for this venue type, and 1 when that is all
    -- three: a week's ALL rows cover a third of it until every tier is out.
    tiers            TEXT    NOT NULL ON CONFLICT FAIL,
    complete         INTEGER NOT NULL ON CONFLICT FAIL,
    computed_at      TEXT    NOT NULL ON CONFLICT FAIL,
    PRIMARY KEY (week_ending, tier, venue_type, venue) ON CONFLICT FAIL
) WITHOUT ROWID;
INSERT INTO otc_venue_share_002
    (week_ending, tier, venue_type, venue, mpid, is_aggregate, total_volume, total_trades, symbol_count,
     market_share_pct, rank, tiers, complete, computed_at)
SELECT share.week_ending, share.tier, 'ATS', share.mpid, share.mpid, 0, share.total_volume,
       share.total_trades, share.symbol_count,
       CAST(replace(share.market_share_pct, '.', '') AS INTEGER) / 100.0, share.rank,
       week.tiers, week.tiers = 'NMS Tier 1,NMS Tier 2,OTC', share.computed_at
FROM otc_venue_share AS share
    JOIN (SELECT week_ending, group_concat(DISTINCT tier ORDER BY tier) AS tiers
          FROM otc_venue_share WHERE tier <> 'ALL' GROUP BY week_ending) AS week
        ON week.week_ending = share.week_ending;
DROP TABLE otc_venue_share;
ALTER TABLE otc_venue_share_002 RENAME TO otc_venue_share;

-- A symbol's ATS and non-ATS week side by side, per tier and across tiers
-- ('ALL'): what users look at first. A table rather than a view: SQLite's
-- round() works on floats and cannot round half-even exactly.
-- ON CONFLICT FAIL, as otc_venue_figures: no statement journal for the
-- many rows one INSERT writes.
CREATE TABLE otc_symbol_offexchange (
    week_ending            TEXT    NOT NULL ON CONFLICT FAIL,
    tier                   TEXT    NOT NULL ON CONFLICT FAIL,
    symbol                 TEXT    NOT NULL ON CONFLICT FAIL,
    ats_volume             INTEGER NOT NULL ON CONFLICT FAIL,
    ats_trades             INTEGER NOT NULL ON CONFLICT FAIL,
    ats_avg_trade_size     REAL,        -- NULL when ats_trades is 0
    non_ats_volume         INTEGER NOT NULL ON CONFLICT FAIL,
    non_ats_trades         INTEGER NOT NULL ON CONFLICT FAIL,
    non_ats_avg_trade_size REAL,        -- NULL when non_ats_trades is 0
    ats_share_pct          REAL,        -- ATS / (ATS + non-ATS) volume; NULL when both are 0
    computed_at            TEXT    NOT NULL ON CONFLICT FAIL,
    PRIMARY KEY (week_ending, tier, symbol) ON CONFLICT FAIL
) WITHOUT ROWID;

INSERT OR IGNORE INTO otc_changed_weeks (week_ending, changed_at)
SELECT DISTINCT week_ending, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM otc_symbol_summary
UNION
SELECT DISTINCT line.week_ending, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
FROM otc_rejects AS moved JOIN otc_raw_lines AS line ON line.id = moved.raw_id
WHERE moved.execution_id = 'otc migration 002';
