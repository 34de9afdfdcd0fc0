//! Small text helpers for messages and table cells.

/// `text` with every run of whitespace (newlines included) folded to one space.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most `max` characters of `text`, with `…` when something was cut.
pub fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn folds_and_cuts_on_character_boundaries() {
        assert_eq!(super::one_line(" a\n  b\tc "), "a b c");
        assert_eq!(super::truncate("héllo", 2), "hé…");
        assert_eq!(super::truncate("héllo", 5), "héllo");
    }
}
