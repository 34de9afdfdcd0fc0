#!/usr/bin/env python3
"""Generate FINRA OTC weekly transparency files, deterministically.

FINRA publishes pipe-delimited files with this header:

    tierDescription|issueSymbolIdentifier|issueName|marketParticipantName|MPID|totalWeeklyShareQuantity|totalWeeklyTradeCount|lastUpdateDate

`lastUpdateDate` is the first-publication Monday, not the trading week: NMS Tier 1 data
appears 21 days after the week's Monday, NMS Tier 2 and OTC data 35 days after. Every file
written here follows that rule, so `otc.ingest` infers the week without `-p week_ending`.

Usage:
    scripts/gen-finra.py ROWS [-o FILE] [--weeks N] [--seed S]
        One benchmark file of exactly ROWS data lines (plus the header), on stdout unless
        -o is given. All three tiers (about 19% NMS Tier 1, 78% NMS Tier 2, 3% OTC, like
        the real volumes), N trading weeks (default 4) ending on consecutive Fridays, the
        last one 2025-12-12; within a week and tier, lines are sorted by symbol as in
        FINRA's files. Every line is valid and unique, so a fresh ingest inserts them
        all. Lines are streamed: memory stays flat for 10^7 rows (about 2-3 s per 10^6).

    scripts/gen-finra.py --sample DIR
        The small committed sample set (data/finra): for two publication Mondays x three
        tiers, an ATS file and a non-ATS file (MPID empty, firms named, the small firms
        together as "De Minimis Firms"), with a few bad lines on purpose, and
        DIR/README.md describing them.

Same arguments, same bytes: randomness comes from one seeded generator, and nothing
depends on the clock or the machine. Python 3.11 standard library only.
"""

import argparse
import datetime as dt
import os
import random
import sys

HEADER = (
    "tierDescription|issueSymbolIdentifier|issueName|marketParticipantName|MPID|"
    "totalWeeklyShareQuantity|totalWeeklyTradeCount|lastUpdateDate\n"
)

TIER1, TIER2, OTC = "NMS Tier 1", "NMS Tier 2", "OTC"

# Days from a trading week's Monday to FINRA's first publication (Rule 6110, RN 19-29).
PUBLICATION_LAG_DAYS = {TIER1: 21, TIER2: 35, OTC: 35}

# ATS venues of the NMS tiers, written as FINRA writes them: "MPID NAME" and the MPID.
ATS_VENUES = [
    ("UBS ATS", "UBSA"),
    ("SIGMA X2", "SGMT"),
    ("LEVEL ATS", "EBXL"),
    ("INTELLIGENT CROSS LLC", "INCR"),
    ("JPM-X", "JPMX"),
    ("MS POOL (ATS-4)", "MSPL"),
    ("INSTINCT X", "MLIX"),
    ("VIRTU MATCHIT ATS", "KCGM"),
    ("IBKR ATS", "IATS"),
    ("CROSSSTREAM", "XSTM"),
    ("BIDS TRADING L.P.", "BIDS"),
    ("POSIT", "ITGP"),
    ("MS TRAJECTORY CROSS (ATS-1)", "MSTX"),
    ("LIQUIDNET NEGOTIATION", "LQNA"),
    ("CODA MARKETS, INC.", "CODA"),
    ("BLOCKCROSS ATS", "BLKX"),
    ("PURESTREAM", "PURE"),
    ("ONECHRONOS", "ONEC"),
]

# Venues of the OTC tier (non-NMS equities), as in FINRA's real OTC files.
OTC_VENUES = [
    ("OTC LINK NQB IDQS", "OTCN"),
    ("OTC LINK ECN ATS", "OTCX"),
    ("GLOBAL OTC", "ARCA"),
    ("NORTH CAPITAL PRIVATE SECURITIES CORPORATION", "PPEX"),
    ("INX SECURITIES, LLC", "SWCL"),
    ("TZERO SECURITIES LLC", "PROS"),
    ("SECURITIZE MARKETS ATS", "SMKT"),
]

# Non-ATS firms (broker-dealers trading away from any ATS: wholesalers filling retail
# orders, bank desks), as FINRA names them in marketParticipantName; the MPID is empty.
# Biggest first. Synthetic figures, real-looking names.
NON_ATS_FIRMS = [
    "Citadel Securities LLC",
    "Virtu Americas LLC",
    "Jane Street Capital, LLC",
    "G1 Execution Services, LLC",
    "Two Sigma Securities, LLC",
    "UBS Securities LLC",
    "Goldman Sachs & Co. LLC",
    "J.P. Morgan Securities LLC",
    "Morgan Stanley & Co. LLC",
]
# FINRA's one row per symbol for the firms under its de minimis threshold.
DE_MINIMIS = "De Minimis Firms"

# Sample securities: (symbol, issue name). Names keep FINRA's commas, `$`, `#`,
# parentheses and double spaces; symbols keep their punctuation.
SAMPLE_ISSUES = {
    TIER1: [
        ("AAPL", "Apple Inc. Common Stock"),
        ("MSFT", "Microsoft Corporation Common Stock"),
        ("NVDA", "NVIDIA Corporation Common Stock"),
        ("AMZN", "Amazon.com, Inc. Common Stock"),
        ("BRK.B", "Berkshire Hathaway Inc. New Common Stock"),
        ("BF.B", "Brown-Forman Corporation Class B Common Stock"),
        ("JPM", "JP Morgan Chase & Co. Common Stock"),
        ("SPY", "SPDR S&P 500 ETF Trust"),
        ("QQQ", "Invesco QQQ Trust, Series 1"),
        ("TSLA", "Tesla, Inc. Common Stock"),
    ],
    TIER2: [
        ("AAOI", "Applied Optoelectronics, Inc. Common Stock"),
        ("ACHR", "Archer Aviation Inc. Class A Common Stock"),
        ("SOUN", "SoundHound AI, Inc. Class A Common Stock"),
        ("PLUG", "Plug Power, Inc. Common Stock"),
        ("ACP$A", "abrdn Income Credit Strategies Fund 5.250% Series A Perpetual Preferred $25 Liq Pref"),
        ("SB$C", "Safe Bulkers Investments, Inc.  Perpetual Preferred Series C (Marshall Islands)"),
        ("GAINN", "Gladstone Investment Corporation 5.00% Notes Due 2026"),
        ("MOG.A", "Moog Inc. Class A Common Stock"),
    ],
    OTC: [
        ("AABB", "Asia Broadband Inc Common Stock"),
        ("TCEHY", "Tencent Holdings Ltd Unsponsored ADR (Cayman Islands)"),
        ("NSRGY", "Nestle SA  Sponsored ADR (Registered)"),
        ("BSFC", "Blue Star Foods Corp. Com Par $0.0001"),
        ("CHEOY", "Cochlear Ord Plc A$ 0.10 Par Unsponsored ADR (Australia)"),
        ("RCBFS", "RSE COLLECTION LLC MEMBERSHIP INT SER - #BOBAFETT Shares of Beneficial Interest"),
        ("MTNOY", "MTN Group, Ltd. Sponsored American Depositary Receipt"),
        ("PWBK", "Pacific West Bancorp   Common Stock"),
    ],
}

# The sample's two publication Mondays, two weeks apart: the NMS Tier 1 week of the
# first (Fri 2025-11-28) is the NMS Tier 2 and OTC week of the second, so one week
# holds all three tiers and its cross-tier ('ALL') venue share means something.
SAMPLE_PUBLICATIONS = [dt.date(2025, 12, 15), dt.date(2025, 12, 29)]
SAMPLE_SEED = 20251215
# The non-ATS files draw from a generator of their own, so the ATS files stay as they were.
SAMPLE_NON_ATS_SEED = 20251229
SAMPLE_FILE_TIER = {TIER1: "tier1", TIER2: "tier2", OTC: "otc"}

# Lines the sample breaks on purpose, per (publication, tier): (where, line, why).
# "middle" lines go halfway through the file, "end" lines last. The sample's README
# lists them with their line numbers.
SAMPLE_BAD_LINES = {
    (SAMPLE_PUBLICATIONS[1], TIER2): [
        (
            "middle",
            "NMS Tier 2|ACHR|Archer Aviation Inc. Class A Common Stock|4512|2025-12-29",
            "parse reject: 5 fields instead of 8 (the venue columns are missing)",
        ),
        (
            "middle",
            "NMS Tier 2|SOUN|SoundHound AI, Inc. Class A Common Stock|EBXL LEVEL ATS|EBXL|1,2O0|15|2025-12-29",
            'parse reject: totalWeeklyShareQuantity "1,2O0" is not an integer',
        ),
        (
            "middle",
            "NMS Tier 2|PLUG|Plug Power, Inc. Common Stock|UBSA UBS ATS|UBSA|88000|410|2025-12-32",
            'parse reject: lastUpdateDate "2025-12-32" is not a date',
        ),
    ],
    (SAMPLE_PUBLICATIONS[1], OTC): [
        (
            "end",
            "OTC|||NORTH CAPITAL PRIVATE SECURITIES CORPORATION|PPEX|1|1|2025-12-29",
            "normalize reject: empty symbol (FINRA's own quirk, copied from a real file: "
            "it parses, so otc.ingest keeps it and otc.normalize rejects it)",
        ),
    ],
}

def week_monday(publication, tier):
    """The Monday of the trading week that FINRA first publishes on `publication`."""
    return publication - dt.timedelta(days=PUBLICATION_LAG_DAYS[tier])


def venues_of(tier):
    return OTC_VENUES if tier == OTC else ATS_VENUES


def venue_field(name, mpid):
    """marketParticipantName|MPID| as FINRA writes it (the name starts with the MPID)."""
    return f"{mpid} {name}|{mpid}|"


# Share volume range per tier, as powers of ten (NMS Tier 1 names trade most), and the
# average trade size range: OTC-tier trades are large blocks of cheap shares.
VOLUME_EXPONENTS = {TIER1: (3.0, 4.5), TIER2: (2.0, 4.5), OTC: (1.0, 5.0)}
TRADE_SIZES = {TIER1: (40, 300), TIER2: (40, 400), OTC: (200, 5000)}


def volume(rng, tier, venue_rank):
    """A plausible (shares, trades) pair. Venues are listed biggest first, so a venue's
    rank scales its volume down, as real market shares fall off."""
    low, span = VOLUME_EXPONENTS[tier]
    shares = int(10 ** (low + rng.random() * span) / (1 + venue_rank)) + 1
    smallest, largest = TRADE_SIZES[tier]
    average_trade = smallest + int(rng.random() * (largest - smallest))
    return shares, max(1, shares // average_trade)


# ---------------------------------------------------------------------------------------
# Benchmark files


def bench_symbol(index, tier_number):
    """A unique symbol per (tier, index): five letters, increasing with `index` so that
    each tier's lines come sorted by symbol as in FINRA's files, with FINRA-style class
    suffixes (`.B`, `$A`) on a few. Tiers never share a symbol."""
    n = index * 3 + tier_number
    letters = []
    for _ in range(5):
        n, digit = divmod(n, 26)
        letters.append(chr(65 + digit))
    symbol = "".join(reversed(letters))
    if index % 41 == 7:
        symbol += ".B"
    elif index % 53 == 11:
        symbol += "$A"
    return symbol


NAME_WORDS = ["Acme", "Global", "Northern", "Pacific", "Quantum", "Silver", "Harbor", "Summit"]
NAME_FORMS = [
    "{w} Holdings, Inc. Common Stock",
    "{w} Resources Corp  Ordinary Shares (Canada)",
    "{w} Bancorp, Inc. 6.25% Preferred $25 Par",
    "{w} Technologies Ltd Unsponsored ADR (Cayman Islands)",
]


def bench_issue_name(symbol, index):
    word = NAME_WORDS[index % len(NAME_WORDS)]
    return f"{symbol} " + NAME_FORMS[(index // 8) % len(NAME_FORMS)].format(w=word)


def bench_weeks(count, last_friday=dt.date(2025, 12, 12)):
    """`count` consecutive trading-week Mondays, oldest first."""
    last_monday = last_friday - dt.timedelta(days=4)
    return [last_monday - dt.timedelta(weeks=count - 1 - i) for i in range(count)]


def write_bench(out, rows, weeks, seed):
    rng = random.Random(seed)
    out.write(HEADER)
    # Rows per week, then per tier in the real proportions; the remainder goes to the
    # last slots so the file has exactly `rows` data lines.
    shares_of_tier = [(TIER1, 0.19), (TIER2, 0.78), (OTC, 0.03)]
    plan = []
    for w, monday in enumerate(weeks):
        week_rows = rows // len(weeks) + (1 if w < rows % len(weeks) else 0)
        t1 = int(week_rows * shares_of_tier[0][1])
        otc = int(week_rows * shares_of_tier[2][1])
        plan += [(monday, TIER1, t1), (monday, TIER2, week_rows - t1 - otc), (monday, OTC, otc)]

    chunk = []
    for monday, tier, quota in plan:
        tier_number = [TIER1, TIER2, OTC].index(tier)
        published = (monday + dt.timedelta(days=PUBLICATION_LAG_DAYS[tier])).isoformat()
        suffix = f"|{published}\n"
        venues = [venue_field(name, mpid) for name, mpid in venues_of(tier)]
        written = 0
        index = 0
        while written < quota:
            symbol = bench_symbol(index, tier_number)
            prefix = f"{tier}|{symbol}|{bench_issue_name(symbol, index)}|"
            # A contiguous run of venues from a random start: distinct MPIDs per symbol.
            count = min(quota - written, 1 + int(rng.random() * len(venues)))
            start = int(rng.random() * len(venues))
            for k in range(count):
                rank = (start + k) % len(venues)
                shares, trades = volume(rng, tier, rank)
                chunk.append(f"{prefix}{venues[rank]}{shares}|{trades}{suffix}")
            written += count
            index += 1
            if len(chunk) >= 20_000:
                out.write("".join(chunk))
                chunk.clear()
    out.write("".join(chunk))


# ---------------------------------------------------------------------------------------
# The committed sample


def sample_lines(rng, publication, tier):
    published = publication.isoformat()
    venues = venues_of(tier)
    rows = []
    for symbol, name in SAMPLE_ISSUES[tier]:
        count = 3 + int(rng.random() * (len(venues) - 3))
        start = int(rng.random() * len(venues))
        for k in range(count):
            rank = (start + k) % len(venues)
            venue_name, mpid = venues[rank]
            shares, trades = volume(rng, tier, rank)
            line = f"{tier}|{symbol}|{name}|{venue_field(venue_name, mpid)}{shares}|{trades}|{published}"
            rows.append(((symbol, f"{mpid} {venue_name}"), line))
    # FINRA sorts by symbol, then by venue name.
    return [line for _, line in sorted(rows)]


def sample_non_ats_lines(rng, publication, tier):
    """Non-ATS lines: per symbol a few named firms and, on most symbols, the de minimis
    row, a quarter to a third of the symbol's non-ATS volume, as in FINRA's data."""
    published = publication.isoformat()
    rows = []
    for symbol, name in SAMPLE_ISSUES[tier]:
        count = 2 + int(rng.random() * 4)
        named = []
        for rank in range(count):
            shares, trades = volume(rng, tier, rank)
            # Non-ATS volume of a symbol runs a few times its ATS volume.
            shares, trades = shares * 3, trades * 3
            named.append((NON_ATS_FIRMS[rank], shares, trades))
        if rng.random() < 0.8:
            total = sum(shares for _, shares, _ in named)
            shares = max(1, int(total * (0.33 + rng.random() * 0.17)))
            smallest, largest = TRADE_SIZES[tier]
            named.append((DE_MINIMIS, shares, max(1, shares // (smallest + int(rng.random() * (largest - smallest))))))
        for firm, shares, trades in named:
            rows.append(((symbol, firm), f"{tier}|{symbol}|{name}|{firm}||{shares}|{trades}|{published}"))
    return [line for _, line in sorted(rows)]


def sample_non_ats_file(rng, publication, tier):
    lines = sample_non_ats_lines(rng, publication, tier)
    name = f"finra_otc_weekly_nonats_{SAMPLE_FILE_TIER[tier]}_{publication:%Y%m%d}.psv"
    return name, lines, []


def sample_file(rng, publication, tier):
    """(file name, lines, [(line number, line, why)]) of one sample file."""
    lines = sample_lines(rng, publication, tier)
    bad = SAMPLE_BAD_LINES.get((publication, tier), [])
    middle = [(line, why) for where, line, why in bad if where == "middle"]
    half = len(lines) // 2
    lines[half:half] = [line for line, _ in middle]
    lines += [line for where, line, _ in bad if where == "end"]
    marked = [(lines.index(line) + 2, line, why) for _, line, why in bad]
    name = f"finra_otc_weekly_{SAMPLE_FILE_TIER[tier]}_{publication:%Y%m%d}.psv"
    return name, lines, marked


def write_sample(folder):
    rng = random.Random(SAMPLE_SEED)
    os.makedirs(folder, exist_ok=True)
    files = []
    for publication in SAMPLE_PUBLICATIONS:
        for tier in (TIER1, TIER2, OTC):
            name, lines, marked = sample_file(rng, publication, tier)
            # Like FINRA's real OTC file of 2025-12-29, the last file has no final newline.
            final_newline = "" if (publication, tier) == (SAMPLE_PUBLICATIONS[1], OTC) else "\n"
            with open(os.path.join(folder, name), "w", encoding="utf-8", newline="") as out:
                out.write(HEADER + "\n".join(lines) + final_newline)
            files.append((name, publication, tier, lines, marked))
    non_ats_rng = random.Random(SAMPLE_NON_ATS_SEED)
    for publication in SAMPLE_PUBLICATIONS:
        for tier in (TIER1, TIER2, OTC):
            name, lines, marked = sample_non_ats_file(non_ats_rng, publication, tier)
            with open(os.path.join(folder, name), "w", encoding="utf-8", newline="") as out:
                out.write(HEADER + "\n".join(lines) + "\n")
            files.append((name, publication, tier, lines, marked))
    with open(os.path.join(folder, "README.md"), "w", encoding="utf-8", newline="") as out:
        out.write(sample_readme(files))


def sample_readme(files):
    """The sample folder's README, with every figure computed from the files written."""
    week_of = lambda publication, tier: week_monday(publication, tier) + dt.timedelta(days=4)
    records = sum(len(lines) for _, _, _, lines, _ in files)
    parse_bad = [m for *_, marked in files for m in marked if m[2].startswith("parse")]
    normalize_bad = [m for *_, marked in files for m in marked if m[2].startswith("normalize")]
    weeks = sorted({week_of(p, t) for _, p, t, _, _ in files})
    tiers_of_week = {w: [t for _, p, t, _, _ in files if week_of(p, t) == w] for w in weeks}
    inserted = records - len(parse_bad)
    # What otc.summarize writes: one summary per (week, tier, symbol, venue type), one
    # venue share per (week, tier, venue type, venue) and per (week, venue type, venue)
    # across tiers. The venue is the MPID, or a non-ATS firm's name.
    bad_lines = {line for *_, marked in files for _, line, _ in marked}
    good = [
        (week_of(p, t), line.split("|"))
        for _, p, t, lines, _ in files
        for line in lines
        if line not in bad_lines
    ]
    kind = lambda fields: ("ATS", fields[4]) if fields[4] else ("NON_ATS", fields[3])
    symbols = {(week, fields[0], fields[1], kind(fields)[0]) for week, fields in good}
    venues = {(week, fields[0], kind(fields)) for week, fields in good}
    venues |= {(week, "ALL", kind(fields)) for week, fields in good}
    side_by_side = {(week, fields[0], fields[1]) for week, fields in good}
    side_by_side |= {(week, "ALL", fields[1]) for week, fields in good}

    text = [
        "# Sample FINRA OTC weekly files",
        "",
        "Small files in the shape of FINRA's OTC weekly transparency downloads, for the demo and",
        "for trying the `otc` pipelines. They are **synthetic**: the symbols, issue names, ATS",
        "names and MPIDs look like FINRA's (commas, `$`, `#`, parentheses, double spaces, `BRK.B`),",
        "and the non-ATS files name firms like FINRA's (wholesalers, bank desks, and the",
        "`De Minimis Firms` row of the small firms on most symbols, with an empty MPID), but",
        "every volume is invented. Do not edit them by hand; regenerate them with",
        "",
        "    scripts/gen-finra.py --sample data/finra",
        "",
        "which writes the same bytes every time (this README included).",
        "",
        "## Files",
        "",
        "`lastUpdateDate` is FINRA's first-publication Monday, so `otc.ingest` infers each",
        "line's trading week (`week_ending`) without `-p week_ending`: NMS Tier 1 weeks are",
        "published 21 days after their Monday, NMS Tier 2 and OTC weeks 35 days after.",
        "",
        "| file | venues | tier | lastUpdateDate | week_ending | data lines |",
        "|---|---|---|---|---|---|",
    ]
    for name, publication, tier, lines, _ in files:
        venues_kind = "non-ATS" if "_nonats_" in name else "ATS"
        text.append(
            f"| `{name}` | {venues_kind} | {tier} | {publication} | {week_of(publication, tier)} | {len(lines)} |"
        )
    text += ["", "The weeks, and the tiers each holds:", ""]
    for week in weeks:
        text.append(f"- {week}: {', '.join(tiers_of_week[week])}")
    text += [
        "",
        "## Lines that are bad on purpose",
        "",
        "| file | line | what is wrong |",
        "|---|---|---|",
    ]
    for name, _, _, _, marked in files:
        for number, _, why in marked:
            text.append(f"| `{name}` | {number} | {why} |")
    text += [
        "",
        f"`{files[len(files) // 2 - 1][0]}` also ends without a final newline, like FINRA's real",
        "OTC file of 2025-12-29.",
        "",
        "## What the pipelines report on an empty database",
        "",
        "`spine-host run otc.ingest -p file_path=data/finra`:",
        f"records {records}, inserted {inserted}, duplicates 0, rejected {len(parse_bad)},",
        f"files {len(files)}, weeks {', '.join(map(str, weeks))}, week_source inferred.",
        "Run again, every good line is a duplicate: inserted 0, duplicates "
        f"{inserted}, rejected {len(parse_bad)}.",
        "",
        "`spine-host run otc.normalize`:",
        f"processed {inserted}, accepted {inserted - len(normalize_bad)}, "
        f"rejected {len(normalize_bad)}, revised 0.",
        "",
        "`spine-host run otc.summarize`:",
        f"weeks {len(weeks)} ({', '.join(map(str, weeks))}), symbols {len(symbols)}, venues {len(venues)};",
        f"otc_symbol_offexchange holds {len(side_by_side)} rows.",
        "",
    ]
    return "\n".join(text)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("Usage:")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("rows", nargs="?", type=int, help="number of data lines to write")
    parser.add_argument("-o", "--output", help="file to write (default: stdout)")
    parser.add_argument("--weeks", type=int, default=4, help="trading weeks to spread rows over (default 4)")
    parser.add_argument("--seed", type=int, default=6110, help="random seed (default 6110)")
    parser.add_argument("--sample", metavar="DIR", help="write the committed sample files into DIR instead")
    args = parser.parse_args()

    if args.sample:
        if args.rows is not None:
            parser.error("give either ROWS or --sample DIR, not both")
        write_sample(args.sample)
        return
    if args.rows is None or args.rows < 0:
        parser.error("ROWS is required: the number of data lines, 0 or more")
    if args.weeks < 1:
        parser.error("--weeks must be 1 or more")
    weeks = bench_weeks(args.weeks)
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="", buffering=1 << 20) as out:
            write_bench(out, args.rows, weeks, args.seed)
    else:
        write_bench(sys.stdout, args.rows, weeks, args.seed)


if __name__ == "__main__":
    main()
