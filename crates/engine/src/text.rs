//! File URIs and positions: what clients send (URIs, columns in their encoding) against what the
//! graph keeps (paths, byte columns).

use maestro_protocol::PositionEncoding;
use std::path::{Path, PathBuf};

/// The path of a `file://` URI, percent-decoded. Other schemes have no path.
pub fn uri_to_path(uri: &str) -> Option<PathBuf> {
    let rest = uri.strip_prefix("file://")?;
    // `file://host/path` names a host; only the local one (empty or localhost) is a path here.
    let rest = rest.strip_prefix("localhost").unwrap_or(rest);
    if !rest.starts_with('/') {
        return None;
    }
    let bytes = rest.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(v) = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    use std::os::unix::ffi::OsStringExt;
    Some(PathBuf::from(std::ffi::OsString::from_vec(out)))
}

/// The `file://` URI of an absolute path, percent-encoding what URIs do not allow.
pub fn path_to_uri(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut out = String::from("file://");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A column in the client's encoding, from a byte column of `line`.
pub fn column_from_bytes(line: &str, byte_col: u32, encoding: PositionEncoding) -> u32 {
    let byte_col = (byte_col as usize).min(line.len());
    let end = (0..=byte_col)
        .rev()
        .find(|i| line.is_char_boundary(*i))
        .unwrap_or(0);
    let prefix = &line[..end];
    match encoding {
        PositionEncoding::Utf8 => end as u32,
        PositionEncoding::Utf16 => prefix.encode_utf16().count() as u32,
        PositionEncoding::Utf32 => prefix.chars().count() as u32,
    }
}

/// A byte column of `line`, from a column in the client's encoding (clamped to the line).
pub fn column_to_bytes(line: &str, column: u32, encoding: PositionEncoding) -> u32 {
    let column = column as usize;
    let mut counted = 0;
    for (i, c) in line.char_indices() {
        if counted >= column {
            return i as u32;
        }
        counted += match encoding {
            PositionEncoding::Utf8 => c.len_utf8(),
            PositionEncoding::Utf16 => c.len_utf16(),
            PositionEncoding::Utf32 => 1,
        };
        if counted > column {
            // Inside a character: the position rounds down to its start.
            return i as u32;
        }
    }
    line.len() as u32
}

/// The text of line `n` (without its line break), or `""` past the end.
pub fn line_of(text: &str, n: u32) -> &str {
    let line = text.split('\n').nth(n as usize).unwrap_or("");
    line.strip_suffix('\r').unwrap_or(line)
}

/// `s` with its control characters written out (`\u{1b}`), for printing a string a repository
/// or an agent chose (a path, a task's text) on a terminal it must not drive.
pub fn visible(s: &str) -> std::borrow::Cow<'_, str> {
    escape_controls(s, |_| false)
}

/// Like [`visible`], keeping line breaks and tabs: for whole lines of output that hold what a
/// repository or an agent wrote (a task, an agent's last words, a memory).
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    escape_controls(s, |c| c == '\n' || c == '\t')
}

/// `s` with every control character but those `keep` allows written out.
fn escape_controls(s: &str, keep: impl Fn(char) -> bool) -> std::borrow::Cow<'_, str> {
    let escaped = |c: char| c.is_control() && !keep(c);
    if !s.chars().any(escaped) {
        return s.into();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if escaped(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out.into()
}

/// An argument vector as a person would type it in a shell: plain words bare, others quoted;
/// control characters (a newline, an escape sequence) written out as `$'\n'`, `$'\x1b'`, so a
/// repository's command cannot hide part of itself or drive the terminal it is shown in.
pub fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|w| shell_word(w))
        .collect::<Vec<_>>()
        .join(" ")
}

fn shell_word(w: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_./:=@%+,-".contains(c);
    if !w.is_empty() && w.chars().all(plain) {
        return w.to_owned();
    }
    if !w.chars().any(char::is_control) {
        return format!("'{}'", w.replace('\'', "'\\''"));
    }
    let mut out = String::from("$'");
    for c in w.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                for b in c.to_string().bytes() {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A text with the start of each line, for answers that convert many positions of one file
/// (finding a line is then a lookup, not a scan from the top).
pub struct Lines {
    text: String,
    starts: Vec<usize>,
}

impl Lines {
    pub fn new(text: String) -> Lines {
        let breaks = text.bytes().enumerate().filter(|&(_, b)| b == b'\n');
        let starts = std::iter::once(0)
            .chain(breaks.map(|(i, _)| i + 1))
            .collect();
        Lines { text, starts }
    }

    /// Line `n` without its line break, or `""` past the end; the same as [`line_of`].
    pub fn line(&self, n: u32) -> &str {
        let Some(&start) = self.starts.get(n as usize) else {
            return "";
        };
        let end = self
            .starts
            .get(n as usize + 1)
            .map_or(self.text.len(), |next| next - 1);
        let line = &self.text[start..end];
        line.strip_suffix('\r').unwrap_or(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_round_trip_with_percent_encoding() {
        let p = Path::new("/home/me/my repo/é#1.rs");
        let uri = path_to_uri(p);
        assert_eq!(uri, "file:///home/me/my%20repo/%C3%A9%231.rs");
        assert_eq!(uri_to_path(&uri).unwrap(), p);
        assert_eq!(uri_to_path("file://localhost/x").unwrap(), Path::new("/x"));
        assert!(uri_to_path("untitled:Untitled-1").is_none());
        assert!(uri_to_path("file://server/share").is_none());
    }

    #[test]
    fn columns_convert_between_encodings() {
        let line = "a😀é=b";
        // 'b' is byte 8, UTF-16 column 5, char 5.
        assert_eq!(column_from_bytes(line, 8, PositionEncoding::Utf16), 5);
        assert_eq!(column_from_bytes(line, 8, PositionEncoding::Utf32), 4);
        assert_eq!(column_to_bytes(line, 5, PositionEncoding::Utf16), 8);
        assert_eq!(
            column_to_bytes(line, 2, PositionEncoding::Utf16),
            1,
            "inside the surrogate pair"
        );
        assert_eq!(
            column_to_bytes(line, 99, PositionEncoding::Utf8),
            line.len() as u32
        );
        assert_eq!(line_of("x\r\ny\n", 0), "x");
        assert_eq!(line_of("x\r\ny\n", 1), "y");
        assert_eq!(line_of("x", 5), "");
        let words =
            |w: &[&str]| shell_words(&w.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        assert_eq!(visible("plain é"), "plain é");
        assert_eq!(visible("a\x1b[31mb\n"), "a\\u{1b}[31mb\\u{a}");
        assert_eq!(
            printable("task\x1b]0;pwned\x07\n\tnext"),
            "task\\u{1b}]0;pwned\\u{7}\n\tnext"
        );
        assert_eq!(words(&["npm", "ci"]), "npm ci");
        assert_eq!(words(&["sh", "-c", "echo it's"]), "sh -c 'echo it'\\''s'");
        assert_eq!(words(&["a\nb", ""]), "$'a\\nb' ''");
        assert_eq!(words(&["\x1b[2Jx"]), "$'\\x1b[2Jx'");
        for text in ["x\r\ny\n", "", "\n\n", "a\nbé\r\n\r\nc", "one"] {
            let lines = Lines::new(text.to_owned());
            for n in 0..6 {
                assert_eq!(lines.line(n), line_of(text, n), "{text:?} line {n}");
            }
        }
    }
}
