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

/// `text` with control characters (newline, escape, …) written as escapes
/// (`\n`, `\u{1b}`), so that what a user typed cannot move the cursor, colour
/// the terminal or break a table row. Borrowed when there is none.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            escaped.extend(c.escape_default());
        } else {
            escaped.push(c);
        }
    }
    std::borrow::Cow::Owned(escaped)
}

#[cfg(test)]
mod tests {
    #[test]
    fn folds_and_cuts_on_character_boundaries() {
        assert_eq!(super::one_line(" a\n  b\tc "), "a b c");
        assert_eq!(super::truncate("héllo", 2), "hé…");
        assert_eq!(super::truncate("héllo", 5), "héllo");
        assert_eq!(
            super::escape_controls("\u{1b}[31mX\nY\u{7f}é"),
            "\\u{1b}[31mX\\nY\\u{7f}é"
        );
    }
}
