-- 003: answers computed from the weekly tables, so that `query`, `shell`
-- and other plugins read them instead of writing the SQL each time:
-- concentration (market-level and per symbol), venue and symbol movers
-- (written by otc.analytics), and coverage (written by otc.coverage).
--
-- Every percentage, index and ratio below is computed in Rust as an exact
-- fraction of exact integer volumes and rounded once, half-even, to the
-- places its column states; it is stored as a REAL, the double nearest those
-- places, which reads back as them (as the other otc tables store theirs).
-- Each stored figure is its own exact value rounded, so a difference or a
-- sum of stored figures may differ from the stored difference or sum by
-- 0.01, as rounded shares may add up to 99.99.
--
-- Every table's key leads with week_ending (coverage's too), so
-- `WHERE week_ending = ?` and `WHERE week_ending BETWEEN ? AND ?` read an
-- index range. Dates are TEXT YYYY-MM-DD; tier is a canonical tier or 'ALL'
-- (across tiers), venue_type 'ATS' or 'NON_ATS'.

-- Market concentration of one (week, tier, venue type), from the venues'
-- volumes in otc_venue_share. A share is a venue's fraction of the total
-- volume of its (week, tier, venue type), De Minimis Firms included.
CREATE TABLE otc_concentration (
    week_ending           TEXT    NOT NULL ON CONFLICT FAIL,
    tier                  TEXT    NOT NULL ON CONFLICT FAIL,
    venue_type            TEXT    NOT NULL ON CONFLICT FAIL,
    total_volume          INTEGER NOT NULL ON CONFLICT FAIL,  -- De Minimis Firms included
    venues                INTEGER NOT NULL ON CONFLICT FAIL,  -- named venues (not De Minimis Firms)
    -- Herfindahl-Hirschman index, 0 to 10,000, 2 places: sum over named
    -- venues of (100 x share)^2. hhi_high adds (100 x the de minimis share)^2:
    -- the aggregate is mass of unknown make-up, as many tiny firms (low) or
    -- as one venue (high). Equal for ATS data. NULL when total_volume is 0.
    hhi_low               REAL,
    hhi_high              REAL,
    effective_venues      REAL,             -- 10,000 / hhi_high, from the exact index, 2 places
    top1_pct              REAL    NOT NULL ON CONFLICT FAIL,  -- the largest named venue's share, 2 places
    top3_pct              REAL    NOT NULL ON CONFLICT FAIL,  -- the three largest named venues', 2 places
    top5_pct              REAL    NOT NULL ON CONFLICT FAIL,  -- the five largest named venues', 2 places
    aggregate_pct         REAL    NOT NULL ON CONFLICT FAIL,  -- De Minimis Firms' share, 2 places (0 for ATS)
    -- The previous loaded week of the same tier and venue type, and the
    -- change of hhi_high since it, split into the venues present in both
    -- weeks (sum of their changes of (100 x share)^2; De Minimis Firms counts
    -- as a venue here) and the rest (venues that entered, minus those that
    -- left), each 2 places. NULL in the first loaded week.
    prev_week_ending      TEXT,
    hhi_change            REAL,
    hhi_change_common     REAL,
    hhi_change_entry_exit REAL,
    computed_at           TEXT    NOT NULL ON CONFLICT FAIL,
    PRIMARY KEY (week_ending, tier, venue_type) ON CONFLICT FAIL
) WITHOUT ROWID;

-- How concentrated one symbol's off-exchange volume is, by the same rules,
-- from otc_venue_figures.
CREATE TABLE otc_symbol_concentration (
    week_ending   TEXT    NOT NULL ON CONFLICT FAIL,
    tier          TEXT    NOT NULL ON CONFLICT FAIL,
    venue_type    TEXT    NOT NULL ON CONFLICT FAIL,
    symbol        TEXT    NOT NULL ON CONFLICT FAIL,
    total_volume  INTEGER NOT NULL ON CONFLICT FAIL,  -- De Minimis Firms included
    venues        INTEGER NOT NULL ON CONFLICT FAIL,  -- named venues
    hhi_low       REAL,                     -- 2 places, as otc_concentration; NULL when total_volume is 0
    hhi_high      REAL,
    top_venue     TEXT,                     -- the named venue with the most volume (ties: the first by name); NULL with none
    top_venue_pct REAL,                     -- its share, 2 places
    aggregate_pct REAL    NOT NULL ON CONFLICT FAIL,  -- De Minimis Firms' share, 2 places
    computed_at   TEXT    NOT NULL ON CONFLICT FAIL,
    PRIMARY KEY (week_ending, tier, venue_type, symbol) ON CONFLICT FAIL
) WITHOUT ROWID;

-- Each venue's share against the previous loaded week of its tier and venue
-- type. status: 'same' (in both weeks), 'entered' (not in the previous
-- week), 'left' (in the previous week only: share_pct 0), 'first' (the first
-- loaded week: nothing to compare with, the prev_ columns NULL).
CREATE TABLE otc_venue_movers (
    week_ending      TEXT    NOT NULL ON CONFLICT FAIL,
    tier             TEXT    NOT NULL ON CONFLICT FAIL,
    venue_type       TEXT    NOT NULL ON CONFLICT FAIL,
    venue            TEXT    NOT NULL ON CONFLICT FAIL,
    is_aggregate     INTEGER NOT NULL ON CONFLICT FAIL,  -- 1 on De Minimis Firms
    volume           INTEGER NOT NULL ON CONFLICT FAIL,
    share_pct        REAL    NOT NULL ON CONFLICT FAIL,  -- 2 places, as otc_venue_share.market_share_pct
    prev_week_ending TEXT,
    prev_volume      INTEGER,
    prev_share_pct   REAL,                  -- 2 places
    change_pp        REAL,                  -- share change in percentage points, exact, 2 places
    status           TEXT    NOT NULL ON CONFLICT FAIL,
    computed_at      TEXT    NOT NULL ON CONFLICT FAIL,
    PRIMARY KEY (week_ending, tier, venue_type, venue) ON CONFLICT FAIL
) WITHOUT ROWID;

-- A symbol's volume across tiers against the previous six loaded weeks
-- (weeks holding data of its venue type in a tier it trades in this week; a
-- loaded week without a row for it counts as 0), one row per symbol with
-- volume this week. median is exact (a whole or a half share), mad (the
-- median absolute deviation) too (a quarter share); robust_z =
-- (volume - median) / (1.4826 x mad), exact, half-even, 2 places, NULL when
-- status is 'new' or mad is 0. status: 'new' (fewer than four prior loaded
-- weeks), 'below_floor' (volume and median both under otc.analytics'
-- min_volume), 'flat' (mad 0), else 'scored'; checked in that order.
CREATE TABLE otc_symbol_movers (
    week_ending  TEXT    NOT NULL ON CONFLICT FAIL,
    venue_type   TEXT    NOT NULL ON CONFLICT FAIL,
    symbol       TEXT    NOT NULL ON CONFLICT FAIL,
    volume       INTEGER NOT NULL ON CONFLICT FAIL,
    prior_weeks  INTEGER NOT NULL ON CONFLICT FAIL,  -- the loaded weeks median and mad cover (at most 6)
    median       REAL,                      -- NULL with no prior loaded week
    mad          REAL,
    robust_z     REAL,
    status       TEXT    NOT NULL ON CONFLICT FAIL,
    computed_at  TEXT    NOT NULL ON CONFLICT FAIL,
    PRIMARY KEY (week_ending, venue_type, symbol) ON CONFLICT FAIL
) WITHOUT ROWID;

-- The last otc.coverage run's answer, one row per expected (tier, venue type)
-- and week of its range: 'loaded' (FINRA's data is in the database),
-- 'missing' (due, under FINRA's schedule, by as_of, and not loaded),
-- 'not_due' (not published yet on as_of: NMS Tier 1 is first published on
-- the Monday 21 days after the week's Monday, NMS Tier 2 and OTC 35 days
-- after). Each run replaces the table whole.
CREATE TABLE otc_coverage (
    week_ending      TEXT    NOT NULL ON CONFLICT FAIL,
    tier             TEXT    NOT NULL ON CONFLICT FAIL,  -- canonical: no 'ALL' here
    venue_type       TEXT    NOT NULL ON CONFLICT FAIL,
    status           TEXT    NOT NULL ON CONFLICT FAIL,
    due_date         TEXT    NOT NULL ON CONFLICT FAIL,  -- the first-publication Monday
    last_update_date TEXT,                  -- the latest lastUpdateDate loaded; NULL unless loaded
    revisions        INTEGER NOT NULL ON CONFLICT FAIL,  -- publications loaded after the first (0 when fewer than 2)
    as_of            TEXT    NOT NULL ON CONFLICT FAIL,
    computed_at      TEXT    NOT NULL ON CONFLICT FAIL,
    PRIMARY KEY (week_ending, tier, venue_type) ON CONFLICT FAIL
) WITHOUT ROWID;

-- Bookkeeping. Every publication loaded: a (week, tier, venue type) and a
-- lastUpdateDate that otc.ingest stored lines of. otc.coverage reads this,
-- not 10^8 raw lines. Filled here once from the lines already stored.
CREATE TABLE otc_publications (
    week_ending      TEXT NOT NULL,
    tier             TEXT NOT NULL,         -- canonical
    venue_type       TEXT NOT NULL,
    last_update_date TEXT NOT NULL,
    PRIMARY KEY (week_ending, tier, venue_type, last_update_date)
) WITHOUT ROWID;
INSERT OR IGNORE INTO otc_publications (week_ending, tier, venue_type, last_update_date)
SELECT DISTINCT week_ending,
       CASE tier WHEN 1 THEN 'NMS Tier 1' WHEN 2 THEN 'NMS Tier 2' ELSE 'OTC' END,
       CASE mpid WHEN '' THEN 'NON_ATS' ELSE 'ATS' END, last_update_date
FROM otc_raw_lines WHERE tier = 1 OR tier = 2 OR tier = 3;

-- Weeks whose summaries changed since otc.analytics last computed them:
-- otc.summarize queues every week it recomputes. Filled here with every
-- week already summarized.
CREATE TABLE otc_analytics_queue (
    week_ending TEXT PRIMARY KEY,
    queued_at   TEXT NOT NULL
);
INSERT OR IGNORE INTO otc_analytics_queue (week_ending, queued_at)
SELECT DISTINCT week_ending, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM otc_venue_share;
