//! An agent's output: a ring buffer addressed by absolute byte offsets (so clients can ask for a
//! range to fill a gap) in front of a log file that keeps all of it. An interactive agent's
//! output also runs through a model of its terminal's screen, so that an attaching client starts
//! from what the screen shows.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct OutputLog {
    ring: VecDeque<u8>,
    capacity: usize,
    /// The offset of `ring[0]`.
    start: u64,
    file: Option<File>,
    path: PathBuf,
    /// Output appended but not yet sent to clients, from `batch_offset`.
    batch: Vec<u8>,
    batch_offset: u64,
    /// The screen of the PTY the output comes from (interactive agents while they run).
    screen: Option<vt100::Parser>,
}

/// What an attaching client needs to draw an interactive agent's screen.
#[derive(Debug, Clone, PartialEq)]
pub struct ScreenSnapshot {
    /// Escape codes that redraw the screen and restore its input modes.
    pub formatted: String,
    /// The output offset the screen stands for: output from here on follows it.
    pub offset: u64,
    pub rows: u16,
    pub cols: u16,
}

impl OutputLog {
    /// Opens (appending to) the log file at `path`; the offsets continue after what it holds, so
    /// they stay meaningful across daemon restarts.
    pub fn open(path: &Path, capacity: usize) -> OutputLog {
        if let Some(parent) = path.parent() {
            let _ = maestro_store::private::create_dir(parent);
        }
        // Transcripts hold code and whatever the agent printed: its owner's only.
        let file = maestro_store::private::file_options()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| tracing::warn!(path = %path.display(), "agent log not writable: {e}"))
            .ok();
        let _ = maestro_store::private::restrict(path, 0o600);
        let existing = std::fs::metadata(path).map_or(0, |m| m.len());
        let mut log = OutputLog {
            ring: VecDeque::with_capacity(capacity.min(64 * 1024)),
            capacity,
            start: existing,
            file,
            path: path.to_owned(),
            batch: Vec::new(),
            batch_offset: existing,
            screen: None,
        };
        // Refill the ring from the end of the file so that a restarted daemon can still show it.
        if existing > 0
            && let Ok(bytes) = read_tail(path, capacity as u64)
        {
            log.start = existing - bytes.len() as u64;
            log.ring.extend(bytes);
        }
        log
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The offset after the last byte.
    pub fn end(&self) -> u64 {
        self.start + self.ring.len() as u64
    }

    pub fn append(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if let Some(f) = &mut self.file
            && let Err(e) = f.write_all(bytes)
        {
            tracing::warn!(path = %self.path.display(), "agent log write failed: {e}");
            self.file = None;
        }
        if let Some(screen) = &mut self.screen {
            screen.process(bytes);
        }
        self.ring.extend(bytes);
        let over = self.ring.len().saturating_sub(self.capacity);
        if over > 0 {
            self.ring.drain(..over);
            self.start += over as u64;
        }
        self.batch.extend_from_slice(bytes);
    }

    /// From now on, output is also drawn on a fresh screen of `rows` × `cols` (a new PTY).
    pub fn start_screen(&mut self, rows: u16, cols: u16) {
        let (rows, cols) = nonzero(rows, cols);
        self.screen = Some(vt100::Parser::new(rows, cols, 0));
    }

    /// The PTY was resized.
    pub fn resize_screen(&mut self, rows: u16, cols: u16) {
        if let Some(screen) = &mut self.screen {
            let (rows, cols) = nonzero(rows, cols);
            screen.set_size(rows, cols);
        }
    }

    /// The screen and the offset it stands for, taken together.
    pub fn screen(&self) -> Option<ScreenSnapshot> {
        let screen = self.screen.as_ref()?.screen();
        let (rows, cols) = screen.size();
        Some(ScreenSnapshot {
            formatted: screen.state_formatted(),
            offset: self.end(),
            rows: rows.get(),
            cols: cols.get(),
        })
    }

    /// The text on the screen now, when there is one.
    pub fn screen_text(&self) -> Option<String> {
        Some(self.screen.as_ref()?.screen().contents())
    }

    /// The screen's rows and columns, when there is one.
    pub fn screen_size(&self) -> Option<crate::process::TermSize> {
        let (rows, cols) = self.screen.as_ref()?.screen().size();
        Some(crate::process::TermSize {
            rows: rows.get(),
            cols: cols.get(),
        })
    }

    /// Whether the program asked for bracketed paste (so pasted newlines do not submit).
    pub fn bracketed_paste(&self) -> bool {
        self.screen
            .as_ref()
            .is_some_and(|s| s.screen().bracketed_paste())
    }

    /// Output appended since the last call, as `(offset, text)`; a multi-byte character cut at
    /// the end waits for the next call. `None` when there is nothing to send.
    pub fn take_batch(&mut self) -> Option<(u64, String)> {
        if self.batch.is_empty() {
            return None;
        }
        let keep = incomplete_tail(&self.batch);
        let send = self.batch.len() - keep;
        if send == 0 {
            return None;
        }
        let rest = self.batch.split_off(send);
        let text = String::from_utf8_lossy(&self.batch).into_owned();
        let offset = self.batch_offset;
        self.batch_offset += send as u64;
        self.batch = rest;
        Some((offset, text))
    }

    /// Bytes from `offset` (at most `limit`), from the ring: `(actual start, text)`. A start
    /// before what the ring keeps begins at its oldest byte; one inside a character at the next
    /// character.
    pub fn read(&self, offset: u64, limit: Option<u64>) -> (u64, String) {
        let mut from = offset.clamp(self.start, self.end());
        let (a, b) = self.ring.as_slices();
        let skip = (from - self.start) as usize;
        let mut bytes: Vec<u8> = a.iter().chain(b).skip(skip).copied().collect();
        let lead = bytes.iter().take_while(|b| (**b & 0xC0) == 0x80).count();
        bytes.drain(..lead);
        from += lead as u64;
        if let Some(limit) = limit
            && bytes.len() as u64 > limit
        {
            bytes.truncate(limit as usize);
            let cut = incomplete_tail(&bytes);
            bytes.truncate(bytes.len() - cut);
        }
        (from, String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// Terminal output as plain text: escape sequences and control characters (but line feeds and
/// tabs) dropped, so CR LF becomes LF.
/// A sequence cut at the end of one piece is finished with the next.
#[derive(Default)]
pub struct Plain {
    carry: String,
}

impl Plain {
    /// The plain text of `text` and of what an earlier piece left unfinished.
    pub fn push(&mut self, text: &str) -> String {
        let input = std::mem::take(&mut self.carry) + text;
        let mut out = String::with_capacity(input.len());
        let mut chars = input.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '\x1b' => {
                    let ended = match chars.next().map(|(_, n)| n) {
                        None => false,
                        // CSI: parameters up to a final byte.
                        Some('[') => chars.any(|(_, n)| ('\x40'..='\x7e').contains(&n)),
                        // OSC, DCS, APC, PM: up to BEL or ESC \.
                        Some(']' | 'P' | '_' | '^') => {
                            let mut ended = false;
                            while let Some((_, n)) = chars.next() {
                                if n == '\x07' {
                                    ended = true;
                                    break;
                                }
                                if n == '\x1b' {
                                    ended = chars.next().is_some();
                                    break;
                                }
                            }
                            ended
                        }
                        // Character sets and line attributes take one more character.
                        Some('(' | ')' | '*' | '+' | '#') => chars.next().is_some(),
                        Some(_) => true,
                    };
                    if !ended {
                        self.carry = input[i..].to_owned();
                        break;
                    }
                }
                '\n' | '\t' => out.push(c),
                c if c.is_control() => {}
                c => out.push(c),
            }
        }
        out
    }
}

/// What a terminal of `rows` × `cols` shows for `bytes` (a terminal UI's output), as text people
/// can read: the rows that scrolled off its top, then its last screen. Spaces drawn as cursor
/// moves, lines drawn by positioning and overwritten characters come out as a terminal shows
/// them, which stripping escape codes cannot do. Rows drawn only on the alternate screen and
/// replaced there are not kept (a full-screen UI's history is its own).
pub fn terminal_text(bytes: &[u8], rows: u16, cols: u16) -> String {
    use vt100::capture::{BasicFormattedCaptureRange, BasicFormattedCaptureState, RowContents};
    #[derive(Default)]
    struct Scrolled {
        text: String,
        state: BasicFormattedCaptureState,
    }
    impl vt100::Callbacks for Scrolled {
        fn on_scroll(&mut self, row: RowContents<'_>, alternate_screen: bool) {
            if !alternate_screen {
                let _ = row.write_formatted_basic(&mut self.text, &mut self.state);
            }
        }
    }
    let plain = |formatted: &str| -> String {
        vt100::capture::basic_formatted_to_plain(formatted).collect()
    };
    let (rows, cols) = nonzero(rows, cols);
    let mut parser = vt100::Parser::new_with_callbacks(rows, cols, 0, Scrolled::default());
    let mut text = String::new();
    // A full-screen UI draws on the alternate screen, which nothing keeps: its last picture is
    // taken just before the program leaves it.
    const LEAVE: [&[u8]; 3] = [b"\x1b[?1049l", b"\x1b[?1047l", b"\x1b[?47l"];
    let mut rest = bytes;
    while !rest.is_empty() {
        let next = LEAVE
            .iter()
            .filter_map(|seq| {
                rest.windows(seq.len())
                    .position(|w| w == *seq)
                    .map(|at| (at, seq.len()))
            })
            .min();
        let Some((at, len)) = next else {
            parser.process(rest);
            break;
        };
        parser.process(&rest[..at]);
        if parser.screen().alternate_screen() {
            let scrolled = std::mem::take(&mut parser.callbacks_mut().text);
            text.push_str(&plain(&scrolled));
            text.push('\n');
            text.push_str(&parser.screen().contents());
            text.push('\n');
        }
        parser.process(&rest[at..at + len]);
        rest = &rest[at + len..];
    }
    let (screen, scrolled) = parser.screen_and_callbacks_mut();
    let mut formatted = std::mem::take(&mut scrolled.text);
    let _ = screen.write_contents_formatted_basic(
        &mut formatted,
        BasicFormattedCaptureRange::Full(&mut scrolled.state),
    );
    text.push_str(&plain(&formatted));
    // Rows as lines, without the blank ends a screen pads them with.
    let mut out: String = text
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n");
    let kept = out.trim_end().len();
    out.truncate(kept);
    out.push('\n');
    let blank_start = out.len() - out.trim_start_matches('\n').len();
    out.drain(..blank_start);
    out
}

fn nonzero(rows: u16, cols: u16) -> (std::num::NonZeroU16, std::num::NonZeroU16) {
    let one = std::num::NonZeroU16::MIN;
    (
        std::num::NonZeroU16::new(rows).unwrap_or(one),
        std::num::NonZeroU16::new(cols).unwrap_or(one),
    )
}

/// How many bytes at the end start a UTF-8 character that is not complete.
fn incomplete_tail(bytes: &[u8]) -> usize {
    for back in 1..=bytes.len().min(3) {
        let b = bytes[bytes.len() - back];
        if b & 0xC0 == 0x80 {
            continue;
        }
        let need = match b {
            b if b >= 0xF0 => 4,
            b if b >= 0xE0 => 3,
            b if b >= 0xC0 => 2,
            _ => 1,
        };
        return if need > back { back } else { 0 };
    }
    0
}

fn read_tail(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(max)))?;
    let mut out = Vec::new();
    f.read_to_end(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod plain_tests {
    use super::Plain;

    #[test]
    fn terminal_codes_are_dropped_even_when_cut_between_pieces() {
        let mut p = Plain::default();
        assert_eq!(
            p.push("\x1b[?1049h\x1b[2J\x1b[1;1H\x1b[7mhead\x1b[0m\x1b[K\r\n> say hi\r\n» hi\x1b"),
            "head\n> say hi\n» hi"
        );
        assert_eq!(p.push("[38;5;"), "");
        assert_eq!(
            p.push("2mgreen\x1b]0;title\x07 \x1b(Bend\x1b7\r\n"),
            "green end\n"
        );
    }
}

#[cfg(test)]
mod terminal_tests {
    #[test]
    fn cursor_moves_become_spaces_and_rows_become_lines() {
        // Ink-style drawing: spaces as cursor-forward, a row reached by positioning, a
        // character overwritten after the fact.
        let drawn = "Welcome\x1b[1Cto\x1b[1CClaude\x1b[2;1H/tmp/mh/data/workt\x1b[1Cees\x1b[2;19Hr\x1b[3;1H> ";
        assert_eq!(
            super::terminal_text(drawn.as_bytes(), 5, 40),
            "Welcome to Claude\n/tmp/mh/data/worktrees\n>\n"
        );
        // What scrolled off the top is kept, in order.
        let many: String = (0..8).map(|i| format!("line {i}\r\n")).collect();
        let text = super::terminal_text(many.as_bytes(), 3, 20);
        assert_eq!(text.lines().take(8).collect::<Vec<_>>()[7], "line 7");
        assert!(text.starts_with("line 0\nline 1\n"), "{text:?}");
        // A full-screen UI's last picture is kept when it leaves the alternate screen.
        let tui = "before\r\n\x1b[?1049h\x1b[2J\x1b[1;1Hin the\x1b[1Cui\x1b[?1049lafter\r\n";
        assert_eq!(
            super::terminal_text(tui.as_bytes(), 4, 30),
            "in the ui\nbefore\nafter\n",
            "the UI's picture, then the normal screen as the UI left it"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_survive_the_ring_dropping_old_output() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = OutputLog::open(&dir.path().join("a.log"), 10);
        log.append(b"hello ");
        log.append(b"world, again");
        assert_eq!(log.end(), 18);
        assert_eq!(log.read(0, None), (8, "rld, again".to_owned()));
        assert_eq!(log.read(11, Some(3)), (11, ", a".to_owned()));
        assert_eq!(log.take_batch(), Some((0, "hello world, again".to_owned())));
        assert_eq!(log.take_batch(), None);
        // The file keeps everything, and a reopened log continues its offsets.
        assert_eq!(
            std::fs::read_to_string(dir.path().join("a.log")).unwrap(),
            "hello world, again"
        );
        let again = OutputLog::open(&dir.path().join("a.log"), 10);
        assert_eq!(again.end(), 18);
        assert_eq!(again.read(0, None).1, "rld, again");
    }

    #[test]
    fn the_screen_follows_the_output_from_where_it_started() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = OutputLog::open(&dir.path().join("c.log"), 1000);
        log.append(b"before the terminal\n");
        assert_eq!(log.screen(), None);
        log.start_screen(5, 20);
        log.append(b"\x1b[2J\x1b[3;4Hhello\x1b[1;1Htop");
        let snap = log.screen().unwrap();
        assert_eq!((snap.rows, snap.cols, snap.offset), (5, 20, log.end()));
        // Redrawn on a blank screen, the snapshot shows what the program drew, where it drew it.
        let mut replay = vt100::Parser::new(
            std::num::NonZeroU16::new(5).unwrap(),
            std::num::NonZeroU16::new(20).unwrap(),
            0,
        );
        replay.process(snap.formatted.as_bytes());
        assert_eq!(replay.screen().contents(), "top\n\n   hello");
        assert_eq!(replay.screen().cursor_position(), (0, 3));
        assert!(!log.bracketed_paste());
        log.append(b"\x1b[?2004h");
        assert!(log.bracketed_paste());
        log.resize_screen(10, 40);
        assert_eq!(
            (log.screen().unwrap().rows, log.screen().unwrap().cols),
            (10, 40)
        );
    }

    #[test]
    fn characters_are_never_split_between_batches() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = OutputLog::open(&dir.path().join("b.log"), 100);
        let text = "añ→😀".as_bytes();
        log.append(&text[..2]);
        assert_eq!(log.take_batch(), Some((0, "a".to_owned())));
        log.append(&text[2..5]);
        assert_eq!(log.take_batch(), Some((1, "ñ".to_owned())));
        log.append(&text[5..]);
        assert_eq!(log.take_batch(), Some((3, "→😀".to_owned())));
        // A read starting inside a character starts at the next one.
        assert_eq!(log.read(2, None), (3, "→😀".to_owned()));
        assert_eq!(log.read(0, Some(5)), (0, "añ".to_owned()));
    }
}
