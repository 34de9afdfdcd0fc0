//! Small text helpers for messages and table cells.

/// `text` with every run of whitespace (newlines included) folded to one space.
pub(crate) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most `max` characters of `text`, with `…` when something was cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// `text` with control characters (newline, escape, …) and invisible
/// formatting ones (bidi overrides such as U+202E, zero-width spaces, the BOM)
/// written as escapes (`\n`, `\u{1b}`, `\u{202e}`), so that what a user typed
/// cannot move the cursor, colour the terminal, reorder a line or break a
/// table row. Borrowed when there is none.
pub(crate) fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(is_unsafe_on_a_terminal) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe_on_a_terminal(c) {
            escaped.extend(c.escape_default());
        } else {
            escaped.push(c);
        }
    }
    std::borrow::Cow::Owned(escaped)
}

/// Control characters, and the invisible format characters that change how
/// the text around them is shown (Unicode's bidi controls, zero-width
/// characters, line and paragraph separators, the BOM).
fn is_unsafe_on_a_terminal(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{206f}' | '\u{feff}'
        )
}

/// At most `width` terminal columns of `text` (a CJK character takes two),
/// with `…` when something was cut.
pub(crate) fn truncate_to_width(text: &str, width: usize) -> String {
    use unicode_width::UnicodeWidthChar;
    if self::width(text) <= width {
        return text.to_owned();
    }
    let mut cut = String::new();
    let mut used = 0;
    for c in text.chars() {
        let columns = c.width().unwrap_or(0);
        if used + columns + 1 > width {
            break;
        }
        cut.push(c);
        used += columns;
    }
    cut.push('…');
    cut
}

/// The terminal columns `text` takes.
pub(crate) fn width(text: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(text)
}

/// The closest of `candidates` to `wanted`, if any is close enough to suggest.
pub(crate) fn did_you_mean<'a>(
    wanted: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(wanted, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    #[test]
    fn folds_and_cuts_on_character_boundaries() {
        assert_eq!(super::one_line(" a\n  b\tc "), "a b c");
        assert_eq!(super::truncate("héllo", 2), "hé…");
        assert_eq!(super::truncate("héllo", 5), "héllo");
        assert_eq!(super::truncate_to_width("世界世界", 5), "世界…");
        assert_eq!(super::truncate_to_width("世界", 4), "世界");
        assert_eq!(
            super::escape_controls("a\u{202e}b\u{200b}"),
            "a\\u{202e}b\\u{200b}"
        );
        assert_eq!(
            super::escape_controls("\u{1b}[31mX\nY\u{7f}é"),
            "\\u{1b}[31mX\\nY\\u{7f}é"
        );
    }

    #[test]
    fn suggests_only_a_close_name() {
        let names = ["otc.ingest", "otc.normalize"];
        assert_eq!(super::did_you_mean("otc.injest", names), Some("otc.ingest"));
        assert_eq!(super::did_you_mean("example.hello", names), None);
    }
}
