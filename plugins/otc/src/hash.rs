//! The record hash: the identity of one published figure.
//!
//! `record_hash` is the first 32 lowercase hex characters of the SHA-256 of
//! `week_ending|tier|symbol|mpid|share_volume|trade_count`, tier in its
//! canonical spelling. The formula is pinned by the domain specification and
//! must never change: stored hashes decide what is a duplicate, so a new
//! formula would make every earlier capture look new. `otc_raw_lines` keeps
//! the 16 bytes the hex characters spell.

use sha2::{Digest, Sha256};
use std::fmt::Write as _;

/// What a record hash covers.
pub struct HashKey<'a> {
    pub week_ending: &'a str,
    pub tier: &'a str,
    pub symbol: &'a str,
    pub mpid: &'a str,
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
        for (index, text) in [key.week_ending, key.tier, key.symbol, key.mpid]
            .into_iter()
            .enumerate()
        {
            if index > 0 {
                self.preimage.push('|');
            }
            self.preimage.push_str(text);
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
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for byte in self.hash(key) {
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_of_the_spec_example() {
        let key = HashKey {
            week_ending: "2025-12-12",
            tier: "NMS Tier 1",
            symbol: "AAPL",
            mpid: "VENA",
            share_volume: 1_000_000,
            trade_count: 5000,
        };
        let mut out = String::from("prefix:");
        RecordHasher::default().push_hash(&key, &mut out);
        assert_eq!(out, "prefix:1ce8807cc6251f6e2bfbe1e917735425");
    }
}
