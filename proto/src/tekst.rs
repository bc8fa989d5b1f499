//! Which characters may travel in the register's texts. Every answer is XML 1.0 (SOAP) or a
//! spreadsheet file, so only tab, line feed, carriage return and the printable range pass — no
//! other control character (C0, DEL, C1) and not U+FFFE/U+FFFF. Edges refuse the rest on input;
//! writers replace it on output. (The registry's domain rules hold the same definition as
//! `tegn_tilladt`, without depending on this crate.)

pub fn publishable(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{7E}' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// The first character of `s` that may not travel, if any.
pub fn first_unpublishable(s: &str) -> Option<char> {
    s.chars().find(|c| !publishable(*c))
}

/// `s` with every character that may not travel replaced by U+FFFD; borrowed when clean.
pub fn publishable_text(s: &str) -> std::borrow::Cow<'_, str> {
    if first_unpublishable(s).is_none() {
        std::borrow::Cow::Borrowed(s)
    } else {
        std::borrow::Cow::Owned(s.chars().map(|c| if publishable(c) { c } else { '\u{FFFD}' }).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_do_not_travel() {
        for c in ['\u{0}', '\u{1}', '\u{1b}', '\u{7f}', '\u{85}', '\u{FFFE}', '\u{FFFF}'] {
            assert!(!publishable(c), "{c:?}");
        }
        for c in ['\t', '\n', '\r', ' ', 'æ', 'ø', 'å', '€', '\u{1F600}'] {
            assert!(publishable(c), "{c:?}");
        }
        assert_eq!(publishable_text("a\u{1b}b"), "a\u{FFFD}b");
    }
}
