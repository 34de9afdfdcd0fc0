//! FINRA's three tiers and the spellings they go by.
//!
//! Files write `NMS Tier 1`, `NMS Tier 2` and `OTC`; FINRA's API writes `T1`,
//! `T2` and `OTCE`. Both map to one canonical spelling, which is what the
//! record hash and the normalized tables use.

/// One of FINRA's tiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    NmsTier1,
    NmsTier2,
    Otc,
}

/// The accepted spellings, for messages.
pub const SPELLINGS: &str = "NMS Tier 1, NMS Tier 2 or OTC (or T1, T2, OTCE)";

impl Tier {
    /// Every tier, in the order of their canonical names.
    pub const ALL: [Tier; 3] = [Tier::NmsTier1, Tier::NmsTier2, Tier::Otc];

    /// Reads a tier: trimmed, case-insensitive, file or API spelling.
    pub fn parse(text: &str) -> Option<Tier> {
        let text = text.trim();
        let is = |spelling: &str| text.eq_ignore_ascii_case(spelling);
        if is("NMS Tier 1") || is("T1") {
            Some(Tier::NmsTier1)
        } else if is("NMS Tier 2") || is("T2") {
            Some(Tier::NmsTier2)
        } else if is("OTC") || is("OTCE") {
            Some(Tier::Otc)
        } else {
            None
        }
    }

    /// The spelling stored and hashed.
    pub fn canonical(self) -> &'static str {
        match self {
            Tier::NmsTier1 => "NMS Tier 1",
            Tier::NmsTier2 => "NMS Tier 2",
            Tier::Otc => "OTC",
        }
    }

    /// The number `otc_raw_lines` stores for the tier (see [`name_sql`]).
    pub fn code(self) -> i64 {
        match self {
            Tier::NmsTier1 => 1,
            Tier::NmsTier2 => 2,
            Tier::Otc => 3,
        }
    }
}

/// SQL for the tier of an `otc_raw_lines` row by name, `column` holding its
/// tier: the canonical name of a known tier's code, an unknown tier as it
/// was written.
pub fn name_sql(column: &str) -> String {
    format!(
        "CASE {column} WHEN 1 THEN 'NMS Tier 1' WHEN 2 THEN 'NMS Tier 2' WHEN 3 THEN 'OTC' ELSE {column} END"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_and_api_spellings_map_to_one_tier() {
        for (text, tier) in [
            ("NMS Tier 1", Tier::NmsTier1),
            (" nms tier 1 ", Tier::NmsTier1),
            ("T1", Tier::NmsTier1),
            ("NMS Tier 2", Tier::NmsTier2),
            ("t2", Tier::NmsTier2),
            ("OTC", Tier::Otc),
            ("OTCE", Tier::Otc),
            ("otce", Tier::Otc),
        ] {
            assert_eq!(Tier::parse(text), Some(tier), "{text:?}");
        }
        for text in ["", "Tier 1", "NMS Tier 3", "T3", "OTC Tier", "NMSTier1"] {
            assert_eq!(Tier::parse(text), None, "{text:?}");
        }
        assert_eq!(Tier::parse("t1").map(Tier::canonical), Some("NMS Tier 1"));
    }

    #[test]
    fn the_codes_name_the_tiers_in_sql_and_in_the_raw_view() {
        for tier in [Tier::NmsTier1, Tier::NmsTier2, Tier::Otc] {
            let when = format!("WHEN {} THEN '{}'", tier.code(), tier.canonical());
            assert!(name_sql("tier").contains(&when), "{when}");
        }
        let migration = include_str!("../migrations/002_otc_publications.sql");
        let view_tier = format!("{} AS tier", name_sql("line.tier"));
        let words = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(words(migration).contains(&words(&view_tier)), "{view_tier}");
    }
}
