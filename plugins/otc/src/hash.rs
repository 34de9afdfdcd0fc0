//! The record hash: the identity of one published figure.
//!
//! `record_hash` is the first 32 lowercase hex characters of the SHA-256 of
//! `week_ending|tier|symbol|venue|share_volume|trade_count`, tier in its
//! canonical spelling, the venue an ATS's MPID or, for a non-ATS row,
//! `NON_ATS:` and the firm's name (so no non-ATS row can hash like an ATS
//! row; for ATS rows the formula is the one the first version used). It is
//! pinned by the domain specification and must never change: stored hashes
//! decide what is a duplicate, so a new formula would make every earlier
//! capture look new. `otc_raw_lines` keeps the 16 bytes the hex characters
//! spell.

use sha2::{Digest, Sha256};
use std::fmt::Write as _;

/// Where a figure traded: an ATS, named by its MPID, or a non-ATS firm (a
/// broker-dealer trading away from any ATS), named by its participant name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Venue<'a> {
    Ats(&'a str),
    NonAts(&'a str),
}

impl<'a> Venue<'a> {
    /// The venue of a line: its MPID when it has one, else its participant
    /// name (FINRA's non-ATS data leaves the MPID empty on every row).
    pub fn of(mpid: &'a str, participant: &'a str) -> Self {
        if mpid.is_empty() {
            Venue::NonAts(participant)
        } else {
            Venue::Ats(mpid)
        }
    }
}

/// The two kinds of venue, as the tables name them; `otc_venue_figures`
/// stores the [`VenueType::code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VenueType {
    Ats,
    NonAts,
}

impl VenueType {
    pub const ALL: [VenueType; 2] = [VenueType::Ats, VenueType::NonAts];

    pub fn name(self) -> &'static str {
        match self {
            VenueType::Ats => "ATS",
            VenueType::NonAts => "NON_ATS",
        }
    }

    /// The number `otc_venue_figures` stores.
    pub fn code(self) -> i64 {
        match self {
            VenueType::Ats => 1,
            VenueType::NonAts => 2,
        }
    }

    pub fn from_code(code: i64) -> Option<Self> {
        VenueType::ALL.into_iter().find(|kind| kind.code() == code)
    }

    /// 0 and 1, to index arrays by venue type.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl<'a> Venue<'a> {
    pub fn venue_type(self) -> VenueType {
        match self {
            Venue::Ats(_) => VenueType::Ats,
            Venue::NonAts(_) => VenueType::NonAts,
        }
    }

    /// The MPID or the firm's name.
    pub fn name(self) -> &'a str {
        match self {
            Venue::Ats(name) | Venue::NonAts(name) => name,
        }
    }
}

/// What a record hash covers.
pub struct HashKey<'a> {
    pub week_ending: &'a str,
    pub tier: &'a str,
    pub symbol: &'a str,
    pub venue: Venue<'a>,
    pub share_volume: i64,
    pub trade_count: i64,
}

/// Hashes keys one after another, reusing one buffer (it runs once per line).
#[derive(Default)]
pub struct RecordHasher {
    preimage: String,
}

impl RecordHasher {
    /// The 16 bytes of the hash of `key`: the first half of its SHA-256.
    pub fn hash(&mut self, key: &HashKey<'_>) -> [u8; 16] {
        self.preimage.clear();
        for text in [key.week_ending, key.tier, key.symbol] {
            self.preimage.push_str(text);
            self.preimage.push('|');
        }
        match key.venue {
            Venue::Ats(mpid) => self.preimage.push_str(mpid),
            Venue::NonAts(firm) => {
                self.preimage.push_str("NON_ATS:");
                self.preimage.push_str(firm);
            }
        }
        // Writing to a String cannot fail.
        let _ = write!(self.preimage, "|{}|{}", key.share_volume, key.trade_count);
        let digest = Sha256::digest(self.preimage.as_bytes());
        let mut hash = [0; 16];
        hash.copy_from_slice(&digest[..16]);
        hash
    }

    /// Appends the 32-character hash of `key`, in lowercase hex, to `out`.
    pub fn push_hash(&mut self, key: &HashKey<'_>, out: &mut String) {
        // The 16 bytes read as one big-endian number print in their own
        // order, zero-padded; writing to a String cannot fail.
        let _ = write!(out, "{:032x}", u128::from_be_bytes(self.hash(key)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(key: &HashKey<'_>) -> String {
        let mut out = String::new();
        RecordHasher::default().push_hash(key, &mut out);
        out
    }

    #[test]
    fn the_hash_of_the_spec_example() {
        let key = HashKey {
            week_ending: "2025-12-12",
            tier: "NMS Tier 1",
            symbol: "AAPL",
            venue: Venue::of("VENA", "VENUE A ATS"),
            share_volume: 1_000_000,
            trade_count: 5000,
        };
        let mut out = String::from("prefix:");
        RecordHasher::default().push_hash(&key, &mut out);
        assert_eq!(out, "prefix:1ce8807cc6251f6e2bfbe1e917735425");
    }

    #[test]
    fn a_non_ats_row_hashes_its_firm_after_non_ats() {
        // sha256("2025-11-28|NMS Tier 1|AAPL|NON_ATS:Citadel Securities LLC|5000000|40000"),
        // worked out with Python's hashlib.
        let key = |venue| HashKey {
            week_ending: "2025-11-28",
            tier: "NMS Tier 1",
            symbol: "AAPL",
            venue,
            share_volume: 5_000_000,
            trade_count: 40_000,
        };
        let firm = key(Venue::of("", "Citadel Securities LLC"));
        assert_eq!(firm.venue, Venue::NonAts("Citadel Securities LLC"));
        assert_eq!(hex(&firm), "0df989de4fb2435db4afe2ad56e7bfec");
        // An ATS whose MPID were the firm's name still hashes apart.
        assert_ne!(hex(&key(Venue::Ats("Citadel Securities LLC"))), hex(&firm));
    }
}
