-- 004: a file loaded again is recognised by its bytes, without reading its
-- lines one by one.
--
-- One row per file that an otc.ingest run read whole and stored every line
-- of, as new rows, with no line rejected and no line whose first publication
-- says another week than the one given. Loading the same bytes again (the
-- same publication downloaded twice, a folder loaded again) would find every
-- line already stored: otc.ingest compares the SHA-256 of a file of the same
-- size, read with the same week given, with those here, checks that the
-- earlier file's rows are all still there (their count in their id range),
-- and counts its lines as duplicates without parsing or hashing them. Any
-- other file (one changed byte, a republication, a file whose lines were
-- rejected or deleted) is read line by line as before.
--
-- Earlier databases (001, 002) upgrade by gaining this table, empty (their
-- files are read line by line, as before), and a column of otc_raw_files.
CREATE TABLE otc_raw_contents (
    file_id        INTEGER PRIMARY KEY,  -- otc_raw_files.id of the load that stored every line
    content_sha256 BLOB    NOT NULL,     -- SHA-256 of the file's bytes, as read
    byte_size      INTEGER NOT NULL,
    week_given     TEXT,                 -- -p week_ending of that load, NULL when inferred per line
    read_rules     INTEGER NOT NULL,     -- the version of the parsing and hashing rules (ingest.rs)
    latest_update  TEXT    NOT NULL,     -- the latest lastUpdateDate of its lines
    lines          INTEGER NOT NULL,     -- data lines, every one stored by that load
    first_id       INTEGER NOT NULL,     -- the otc_raw_lines ids it stored: first_id .. last_id
    last_id        INTEGER NOT NULL,
    weeks          TEXT    NOT NULL      -- the weeks of its lines, comma-separated
);
CREATE INDEX otc_raw_contents_by_size ON otc_raw_contents (byte_size);

-- 1 when a file's lines came in the unique key's order (FINRA's: week,
-- tier, symbol), 0 when not (tiers interleaved, files merged): otc.normalize
-- then reads the new rows in the key's order, so that its upserts append
-- instead of landing in the middle of the table. NULL before 004: read as 1.
ALTER TABLE otc_raw_files ADD COLUMN in_key_order INTEGER;
