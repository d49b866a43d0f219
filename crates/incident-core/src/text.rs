//! Text that arrives from outside — alarm names, reasons, tags, reports — is hostile until made
//! safe here. Everything a person reads (titles, timelines, SNS subjects, pages, the COE) is built
//! from text that went through these functions, so no control character, line break or bidirectional
//! override from an event reaches it, and nothing is longer than its cap.

/// The longest alarm or canary name kept (CloudWatch's own limit for alarm names).
pub const NAME_MAX: usize = 255;
/// The longest reason, summary or report text kept on a signal.
pub const REASON_MAX: usize = 1024;
/// Alarm tag keys and values (CloudWatch's limits).
pub const TAG_KEY_MAX: usize = 128;
pub const TAG_VALUE_MAX: usize = 256;
/// Reporter names and other short labels.
pub const LABEL_MAX: usize = 128;
/// Links (support cases, canary artifacts).
pub const LINK_MAX: usize = 2048;
/// SNS refuses a subject of 100 characters or more, or with a line break.
pub const SUBJECT_MAX: usize = 99;

/// True for what must never reach a person's screen from an event: C0/C1 controls (line breaks
/// included), and the Unicode format characters that reorder or hide text (bidirectional
/// overrides and isolates, zero-width characters, the BOM).
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200B}'..='\u{200F}'   // zero-width space/joiners, LRM, RLM
            | '\u{2028}'..='\u{202E}' // line/paragraph separators, bidi embeddings and overrides
            | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
            | '\u{2066}'..='\u{2069}' // bidi isolates
            | '\u{FEFF}'              // BOM
            | '\u{FFF9}'..='\u{FFFB}')
}

/// One line of at most `max` characters: unsafe characters become spaces, runs of whitespace one
/// space, the ends are trimmed, and what is cut is marked with `…` (within `max`).
pub fn line(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max.saturating_mul(4)));
    let mut space = false;
    for c in text.chars() {
        if unsafe_char(c) || c.is_whitespace() {
            space = !out.is_empty();
        } else {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    cap(out, max)
}

fn cap(text: String, max: usize) -> String {
    if text.chars().count() <= max {
        return text;
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

/// An SNS subject: one line, under 100 characters.
pub fn subject(text: &str) -> String {
    line(text, SUBJECT_MAX)
}

/// Whether `text` is a safe identifier of at most `max` characters: letters, digits and
/// `. _ - / : @ +`, not empty, no spaces. Used for values that become keys (service names named by
/// an event, report ids), which are refused rather than repaired.
pub fn is_identifier(text: &str, max: usize) -> bool {
    !text.is_empty()
        && text.chars().count() <= max
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | ':' | '@' | '+'))
}

/// Text quoted inside a Markdown line or table cell: one line, and every character Markdown or
/// HTML would act on is escaped, so quoted event text renders as the text it is.
pub fn markdown(text: &str) -> String {
    let one = line(text, usize::MAX);
    let mut out = String::with_capacity(one.len() + 8);
    for c in one.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '~' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn line_breaks_and_controls_become_single_spaces() {
        assert_eq!(line("a\r\nb\t\tc\u{0007}d", 50), "a b c d");
        assert_eq!(line("  \n trimmed \n ", 50), "trimmed");
    }

    #[test]
    fn bidirectional_overrides_and_zero_width_characters_are_removed() {
        assert_eq!(line("pay\u{202E}gnp.exe", 50), "pay gnp.exe");
        assert_eq!(line("a\u{200B}b\u{FEFF}", 50), "a b");
    }

    #[test]
    fn long_text_is_cut_and_marked() {
        let cut = line(&"x".repeat(300), 10);
        assert_eq!(cut, format!("{}…", "x".repeat(9)));
        assert_eq!(cut.chars().count(), 10);
    }

    #[test]
    fn subjects_fit_sns() {
        let s = subject(&format!("SEV1 {}\nsecond line", "é".repeat(200)));
        assert!(s.chars().count() < 100 && !s.contains('\n'), "{s}");
    }

    #[test]
    fn identifiers_refuse_spaces_markup_and_controls() {
        assert!(is_identifier("checkout", 64));
        assert!(is_identifier("case-42/eu:1", 64));
        for bad in ["", "a b", "<script>", "a\nb", "x#y", &"a".repeat(65)] {
            assert!(!is_identifier(bad, 64), "{bad:?}");
        }
    }

    #[test]
    fn markdown_quotes_render_as_text() {
        assert_eq!(
            markdown("<script>alert(1)</script> **bold** [x](javascript:y) | cell"),
            "&lt;script&gt;alert(1)&lt;/script&gt; \\*\\*bold\\*\\* \\[x\\](javascript:y) \\| cell"
        );
        assert_eq!(markdown("line\n# heading"), "line \\# heading");
    }

    proptest! {
        #[test]
        fn a_line_is_always_one_safe_line_within_its_cap(text in any::<String>(), max in 1usize..300) {
            let out = line(&text, max);
            prop_assert!(out.chars().count() <= max);
            prop_assert!(!out.chars().any(unsafe_char));
            prop_assert_eq!(out.trim(), out.as_str());
        }

        #[test]
        fn markdown_never_lets_a_tag_or_a_line_break_through(text in any::<String>()) {
            let out = markdown(&text);
            prop_assert!(!out.contains('<') && !out.contains('>') && !out.contains('\n'));
        }
    }
}
