//! Names made safe to print: control characters (newline, tab, ESC...) and invisible
//! direction or width marks are escaped, so a file name can neither forge lines of output nor
//! drive the terminal.

use std::borrow::Cow;

/// Characters that change how text around them shows, though printable: direction overrides
/// and isolates, zero-width marks, the byte-order mark.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// `s` with `\n`, `\t`, `\r` written as such, other control characters as `\xNN` and
/// invisible format characters as `\u{NNNN}`; unchanged (and not copied) when it has none.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() || is_invisible_format(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() && (c as u32) < 0x100 => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() || is_invisible_format(c) => {
                out.push_str(&format!("\\u{{{:04x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn control_characters_are_escaped_and_plain_names_kept() {
        assert_eq!(escape("/data/part-00000"), "/data/part-00000");
        assert_eq!(escape("/ünïcode/名前"), "/ünïcode/名前");
        assert_eq!(escape("/a\nb"), "/a\\nb");
        assert_eq!(escape("/a\tb\rc"), "/a\\tb\\rc");
        assert_eq!(escape("/\x1b[31mred"), "/\\x1b[31mred");
        assert_eq!(escape("/del\x7f"), "/del\\x7f");
        assert_eq!(escape("/evil\u{202e}txt.exe"), "/evil\\u{202e}txt.exe");
    }
}
