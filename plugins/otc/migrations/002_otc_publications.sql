-- 002: the OTC tables, round two, as one upgrade of databases that may hold
-- 10^8 lines (each table is rebuilt at most once).
--
-- Bounds: a row with more than 10^14 shares or 10^12 trades is a corrupt
-- file, and otc.normalize rejects it; rows 001 accepted beyond them move to
-- otc_rejects here, and their keys fall back on their other rows.
--
-- Publications: a duplicate is the same record hash published on the same
-- lastUpdateDate; the same content in a later publication is that
-- publication's word and is stored. otc.normalize keeps, per key, the row
-- with the latest lastUpdateDate, and between two rows of one day the greater
-- record hash, so the tables never depend on the order files were loaded in.

-- The views name the tables rebuilt below.
DROP VIEW otc_raw;
DROP VIEW otc_venue_volume;
DROP INDEX otc_raw_lines_unchecked;

-- otc_raw_lines again, its unique key now the publication's. SQLite cannot
-- change a table's constraints in place: the rows are copied, in id order,
-- and the indexes built once at the end (faster than row by row).
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
    venue_name       TEXT    NOT NULL ON CONFLICT FAIL,
    mpid             TEXT    NOT NULL ON CONFLICT FAIL,
    share_volume     INTEGER NOT NULL ON CONFLICT FAIL,
    trade_count      INTEGER NOT NULL ON CONFLICT FAIL,
    -- share_volume / trade_count as otc_venue_volume keeps it, computed at
    -- ingest, where the line is in hand anyway; NULL with no trades or a
    -- negative figure. otc.normalize copies it.
    avg_trade_size   TEXT
);
INSERT INTO otc_raw_lines_002
    (id, file_id, line_number, record_hash, week_ending, last_update_date, tier, symbol, issue_name,
     venue_name, mpid, share_volume, trade_count, avg_trade_size)
SELECT id, file_id, line_number, record_hash, week_ending, last_update_date, tier, symbol, issue_name,
       venue_name, mpid, share_volume, trade_count, avg_trade_size
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
    WHERE NOT ((tier = 1 OR tier = 2 OR tier = 3) AND symbol <> '' AND mpid <> ''
               AND share_volume >= 0 AND trade_count >= 0 AND (trade_count > 0 OR share_volume = 0)
               AND share_volume <= 100000000000000 AND trade_count <= 1000000000000
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

-- The winner's record hash beside its date: between two rows of one key and
-- day the greater hash wins, and the upsert compares them in place.
ALTER TABLE otc_venue_figures ADD COLUMN record_hash BLOB NOT NULL DEFAULT X'';
UPDATE otc_venue_figures SET record_hash = (SELECT record_hash FROM otc_raw_lines WHERE id = raw_id);

-- Normalized volume with the record hash of its raw line and the time it
-- was normalized.
CREATE VIEW otc_venue_volume AS
SELECT venue.week_ending, venue.tier, venue.symbol, venue.mpid, venue.share_volume, venue.trade_count,
       venue.avg_trade_size, lower(hex(venue.record_hash)) AS record_hash, venue.raw_id,
       venue.last_update_date, run.normalized_at
FROM otc_venue_figures AS venue
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
-- at its next run: rows an upgrade put back in play.
CREATE TABLE otc_normalize_queue (raw_id INTEGER PRIMARY KEY);

-- Whether a raw row was already rejected at normalize.
CREATE INDEX otc_rejects_by_raw_id ON otc_rejects (raw_id) WHERE raw_id IS NOT NULL;

-- Same-day conflicts that 001 settled by load order (the later ingest won):
-- every row of a key and day with more than one row goes back to
-- otc.normalize, which settles them by hash and notes the losers. One pass
-- over the new key, which holds every column the grouping needs.
INSERT INTO otc_normalize_queue (raw_id)
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
    AND (line.tier = 1 OR line.tier = 2 OR line.tier = 3) AND line.symbol <> '' AND line.mpid <> ''
    AND line.share_volume >= 0 AND line.trade_count >= 0
    AND (line.trade_count > 0 OR line.share_volume = 0)
    AND (line.avg_trade_size IS NOT NULL OR line.trade_count = 0);

-- Rows 001 accepted beyond the bounds: each goes to otc_rejects with the
-- reason otc.normalize gives (normalize.rs's check, word for word), its
-- line as normalize writes it, clipped as rejects.rs clips it. The partial
-- index above holds them, among the few rows normalize cannot move.
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
          AND NOT ((tier = 1 OR tier = 2 OR tier = 3) AND symbol <> '' AND mpid <> ''
                   AND share_volume >= 0 AND trade_count >= 0 AND (trade_count > 0 OR share_volume = 0)
                   AND share_volume <= 100000000000000 AND trade_count <= 1000000000000
                   AND (avg_trade_size IS NOT NULL OR trade_count = 0))
          AND (share_volume > 100000000000000 OR trade_count > 1000000000000)
          -- What 001 accepted.
          AND (tier = 1 OR tier = 2 OR tier = 3) AND symbol <> '' AND mpid <> ''
          AND share_volume >= 0 AND trade_count >= 0 AND (trade_count > 0 OR share_volume = 0)
          AND (avg_trade_size IS NOT NULL OR trade_count = 0)) AS line
    JOIN otc_raw_files AS file ON file.id = line.file_id;

-- Their keys' other rows go back to otc.normalize, which keeps the best of
-- them, and their weeks to otc.summarize.
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
    AND (other.tier = 1 OR other.tier = 2 OR other.tier = 3) AND other.symbol <> '' AND other.mpid <> ''
    AND other.share_volume >= 0 AND other.trade_count >= 0
    AND (other.trade_count > 0 OR other.share_volume = 0)
    AND other.share_volume <= 100000000000000 AND other.trade_count <= 1000000000000
    AND (other.avg_trade_size IS NOT NULL OR other.trade_count = 0);
INSERT OR IGNORE INTO otc_changed_weeks (week_ending, changed_at)
SELECT DISTINCT line.week_ending, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
FROM otc_rejects AS moved JOIN otc_raw_lines AS line ON line.id = moved.raw_id
WHERE moved.execution_id = 'otc migration 002';
DELETE FROM otc_venue_figures
WHERE (week_ending, tier, symbol, mpid) IN
        (SELECT line.week_ending,
                CASE line.tier WHEN 1 THEN 'NMS Tier 1' WHEN 2 THEN 'NMS Tier 2' WHEN 3 THEN 'OTC' END,
                line.symbol, line.mpid
         FROM otc_rejects AS moved JOIN otc_raw_lines AS line ON line.id = moved.raw_id
         WHERE moved.execution_id = 'otc migration 002')
    AND raw_id IN (SELECT raw_id FROM otc_rejects WHERE execution_id = 'otc migration 002');
