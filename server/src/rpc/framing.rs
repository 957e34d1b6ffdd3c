//! LSP's base protocol framing (`Content-Length` headers, then a JSON body), read defensively: a frame
//! that is too large is answered before its body arrives and then skipped; garbage between frames is
//! skipped up to the next `Content-Length` header and reported once; a body that turns out to hold the
//! start of the next frame (a `Content-Length` that was too long) gives that frame back.
//!
//! Memory is bounded per connection and across them: a large body is read into a buffer of its own
//! size (never the doubling read buffer, which shrinks back after a large frame), and the daemon's
//! connections share a [`FrameBudget`] for bodies in flight, so ten clients stopping halfway through
//! a 60 MB frame hold the budget, not 600 MB. A body that holds budget must keep arriving.

use maestro_protocol::{Id, Invalid, Message, RpcError};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

const HEADER: &[u8] = b"content-length:";
/// A header line longer than this is not a header.
const MAX_HEADER_LINE: usize = 8 * 1024;
const READ_CHUNK: usize = 64 * 1024;
/// How long a large body may wait for the shared budget, and may go without a byte once it has it.
const BODY_PATIENCE: Duration = Duration::from_secs(30);

/// Bytes of large frame bodies that all connections together may hold while they arrive.
#[derive(Clone)]
pub struct FrameBudget(Arc<Semaphore>);

impl FrameBudget {
    pub fn new(bytes: usize) -> FrameBudget {
        FrameBudget(Arc::new(Semaphore::new(bytes.min(Semaphore::MAX_PERMITS))))
    }
}

/// A problem with the framing itself, answered with an error whose id is `null`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// Bytes that are not part of any frame were skipped.
    Garbage { skipped: usize, sample: String },
    /// A header block without `Content-Length`.
    MissingLength,
    /// A `Content-Length` that is not a number.
    BadLength { value: String },
    /// A frame over the size limit; its body is being skipped.
    TooLarge { length: u64, max: usize },
    /// Other connections' large frames held the shared budget for too long; this body was skipped.
    Busy { length: u64 },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Garbage { skipped, sample } => {
                write!(
                    f,
                    "skipped {skipped} bytes that are not a Content-Length frame (starting {sample})"
                )
            }
            FrameError::MissingLength => f.write_str("header block without Content-Length"),
            FrameError::BadLength { value } => {
                write!(f, "Content-Length {value:?} is not a byte count")
            }
            FrameError::TooLarge { length, max } => write!(
                f,
                "frame of {length} bytes exceeds the limit of {max} bytes (rpc.max_frame_bytes); it was skipped"
            ),
            FrameError::Busy { length } => write!(
                f,
                "frame of {length} bytes skipped: other connections' large messages held the daemon's \
                 receive budget for {}s; send it again",
                BODY_PATIENCE.as_secs()
            ),
        }
    }
}

impl FrameError {
    /// The JSON-RPC error that answers this problem.
    pub fn to_rpc(&self) -> RpcError {
        match self {
            FrameError::TooLarge { .. } | FrameError::Busy { .. } => {
                RpcError::invalid_request(self)
            }
            _ => RpcError::parse_error(self),
        }
    }
}

/// What the reader found next.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    Body(Vec<u8>),
    Error(FrameError),
}

/// Reads frames from a byte stream.
pub struct FrameReader<R> {
    inner: R,
    buf: Vec<u8>,
    pos: usize,
    max_frame: usize,
    /// Garbage skipped but not yet reported.
    garbage: usize,
    garbage_sample: Vec<u8>,
    /// Body bytes of a too-large frame still to skip.
    discard: u64,
    eof: bool,
    budget: Option<FrameBudget>,
    /// Bytes read from `inner` so far.
    total: u64,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub fn new(inner: R, max_frame: usize) -> Self {
        FrameReader {
            inner,
            buf: Vec::with_capacity(READ_CHUNK),
            pos: 0,
            max_frame,
            garbage: 0,
            garbage_sample: Vec::new(),
            discard: 0,
            eof: false,
            budget: None,
            total: 0,
        }
    }

    /// Bytes read from the stream so far.
    pub fn bytes_read(&self) -> u64 {
        self.total
    }

    /// Shares `budget` for bodies larger than one read with other readers.
    pub fn with_budget(mut self, budget: FrameBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Puts bytes back in front of the stream.
    pub fn unread(&mut self, bytes: &[u8]) {
        self.buf.splice(self.pos..self.pos, bytes.iter().copied());
    }

    /// The next frame or framing problem; `None` at the end of the stream.
    pub async fn next(&mut self) -> std::io::Result<Option<Frame>> {
        loop {
            if self.discard > 0 {
                let n = (self.available() as u64).min(self.discard);
                self.pos += n as usize;
                self.discard -= n;
                if self.discard > 0 && !self.fill().await? {
                    return Ok(None);
                }
                continue;
            }
            match self.headers() {
                Headers::Complete(Ok(length)) => {
                    if length > self.max_frame as u64 {
                        self.discard = length;
                        return Ok(Some(Frame::Error(FrameError::TooLarge {
                            length,
                            max: self.max_frame,
                        })));
                    }
                    let length = length as usize;
                    if length > READ_CHUNK && self.available() < length {
                        return self.large_body(length).await;
                    }
                    while self.available() < length {
                        if !self.fill().await? {
                            return Ok(None);
                        }
                    }
                    let body = self.buf[self.pos..self.pos + length].to_vec();
                    self.pos += length;
                    self.shrink();
                    return Ok(Some(Frame::Body(body)));
                }
                Headers::Complete(Err(e)) => return Ok(Some(Frame::Error(e))),
                Headers::GarbageBeforeFrame => return Ok(Some(Frame::Error(self.take_garbage()))),
                Headers::Partial => {
                    if !self.fill().await? {
                        let rest = &self.buf[self.pos..];
                        if !rest.iter().all(u8::is_ascii_whitespace) {
                            self.skip(rest.len());
                        }
                        if self.garbage > 0 {
                            self.pos = self.buf.len();
                            return Ok(Some(Frame::Error(self.take_garbage())));
                        }
                        return Ok(None);
                    }
                }
            }
        }
    }

    fn available(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// A body that has not arrived yet: read into a buffer of its own size, under the shared budget
    /// when there is one.
    async fn large_body(&mut self, length: usize) -> std::io::Result<Option<Frame>> {
        let _permit: Option<OwnedSemaphorePermit> = match &self.budget {
            None => None,
            Some(FrameBudget(budget)) => {
                let wanted = u32::try_from(length).unwrap_or(u32::MAX);
                let acquire = budget.clone().acquire_many_owned(wanted);
                match tokio::time::timeout(BODY_PATIENCE, acquire).await {
                    Ok(permit) => Some(permit.expect("the budget is never closed")),
                    Err(_) => {
                        self.discard = length as u64;
                        return Ok(Some(Frame::Error(FrameError::Busy {
                            length: length as u64,
                        })));
                    }
                }
            }
        };
        let mut body = Vec::with_capacity(length);
        body.extend_from_slice(&self.buf[self.pos..]);
        self.pos = self.buf.len();
        self.shrink();
        while body.len() < length {
            if self.eof {
                return Ok(None);
            }
            let start = body.len();
            body.resize(length.min(start + 4 * READ_CHUNK), 0);
            let read = self.inner.read(&mut body[start..]);
            let n = if self.budget.is_some() {
                tokio::time::timeout(BODY_PATIENCE, read)
                    .await
                    .map_err(|_| {
                        std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            format!(
                                "no byte of a {length}-byte message for {}s",
                                BODY_PATIENCE.as_secs()
                            ),
                        )
                    })??
            } else {
                read.await?
            };
            body.truncate(start + n);
            self.total += n as u64;
            if n == 0 {
                self.eof = true;
            }
        }
        Ok(Some(Frame::Body(body)))
    }

    /// Gives back what a large frame made the read buffer grow to.
    fn shrink(&mut self) {
        if self.buf.capacity() > 4 * READ_CHUNK && self.available() < READ_CHUNK {
            self.buf.drain(..self.pos);
            self.pos = 0;
            self.buf.shrink_to(2 * READ_CHUNK);
        }
    }

    /// Reads more bytes; false at the end of the stream.
    async fn fill(&mut self) -> std::io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.pos > 0 && (self.pos == self.buf.len() || self.pos > READ_CHUNK) {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let len = self.buf.len();
        self.buf.resize(len + READ_CHUNK, 0);
        let n = self.inner.read(&mut self.buf[len..]).await;
        let n = match n {
            Ok(n) => n,
            Err(e) => {
                self.buf.truncate(len);
                return Err(e);
            }
        };
        self.buf.truncate(len + n);
        self.total += n as u64;
        if n == 0 {
            self.eof = true;
        }
        Ok(n > 0)
    }

    fn skip(&mut self, n: usize) {
        if self.garbage_sample.len() < 24 {
            let take = n.min(24 - self.garbage_sample.len());
            self.garbage_sample
                .extend_from_slice(&self.buf[self.pos..self.pos + take]);
        }
        self.garbage += n;
        self.pos += n;
    }

    fn take_garbage(&mut self) -> FrameError {
        let e = FrameError::Garbage {
            skipped: self.garbage,
            sample: format!("{:?}", String::from_utf8_lossy(&self.garbage_sample)),
        };
        self.garbage = 0;
        self.garbage_sample.clear();
        e
    }

    /// Parses a header block at the read position. Lines that cannot belong to a header block are
    /// skipped as garbage (a `Content-Length:` inside such a line starts a new block); the block is
    /// consumed only once it is complete.
    fn headers(&mut self) -> Headers {
        'scan: loop {
            let rest = &self.buf[self.pos..];
            let mut cursor = 0;
            let mut lines = Vec::new();
            loop {
                let Some(nl) = find(&rest[cursor..], b"\n") else {
                    if rest.len() - cursor > MAX_HEADER_LINE {
                        // A line that never ends is not a header: skip it, keeping a tail that could
                        // be the start of a header split across reads.
                        match find_header(&rest[cursor..]).filter(|&k| k > 0) {
                            Some(k) => self.skip(cursor + k),
                            None => self.skip(rest.len() - (HEADER.len() - 1)),
                        }
                        continue 'scan;
                    }
                    return Headers::Partial;
                };
                let raw = &rest[cursor..cursor + nl];
                let line = raw.strip_suffix(b"\r").unwrap_or(raw);
                if line.is_empty() {
                    if lines.is_empty() {
                        // A blank line between frames.
                        if self.garbage > 0 {
                            self.skip(nl + 1);
                        } else {
                            self.pos += nl + 1;
                        }
                        continue 'scan;
                    }
                    let block: Vec<String> = lines
                        .iter()
                        .map(|l: &&[u8]| String::from_utf8_lossy(l).into_owned())
                        .collect();
                    self.pos += cursor + nl + 1;
                    return Headers::Complete(content_length(&block));
                }
                let embedded = find_header(line).filter(|&k| k > 0);
                if embedded.is_none() && is_header_line(line) {
                    if lines.is_empty() && self.garbage > 0 {
                        return Headers::GarbageBeforeFrame;
                    }
                    lines.push(line);
                    cursor += nl + 1;
                    continue;
                }
                // Not a header: this line (and any block lines before it) is garbage, up to a
                // `Content-Length:` that may start inside it.
                match embedded {
                    Some(k) => self.skip(cursor + k),
                    None => self.skip(cursor + nl + 1),
                }
                continue 'scan;
            }
        }
    }
}

enum Headers {
    Complete(Result<u64, FrameError>),
    GarbageBeforeFrame,
    Partial,
}

fn content_length(block: &[String]) -> Result<u64, FrameError> {
    let mut length = None;
    for line in block {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.trim().eq_ignore_ascii_case("content-length") {
            let value = value.trim();
            length = Some(value.parse::<u64>().map_err(|_| FrameError::BadLength {
                value: value.to_owned(),
            })?);
        }
    }
    length.ok_or(FrameError::MissingLength)
}

/// `Name: value`, with a token for a name.
fn is_header_line(line: &[u8]) -> bool {
    match line.iter().position(|&b| b == b':') {
        Some(colon) if colon > 0 => line[..colon]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-'),
        _ => false,
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Where a `Content-Length:` header starts in `hay` (ASCII case-insensitive).
fn find_header(hay: &[u8]) -> Option<usize> {
    hay.windows(HEADER.len())
        .position(|w| w.eq_ignore_ascii_case(HEADER))
}

/// Reads JSON-RPC messages: frames parsed into [`Message`]s, every problem mapped to the error that
/// answers it.
pub struct MessageReader<R> {
    frames: FrameReader<R>,
}

impl<R: AsyncRead + Unpin> MessageReader<R> {
    pub fn new(inner: R, max_frame: usize) -> Self {
        MessageReader {
            frames: FrameReader::new(inner, max_frame),
        }
    }

    /// See [`FrameReader::with_budget`].
    pub fn with_budget(self, budget: FrameBudget) -> Self {
        MessageReader {
            frames: self.frames.with_budget(budget),
        }
    }

    /// Bytes read from the stream so far.
    pub fn bytes_read(&self) -> u64 {
        self.frames.bytes_read()
    }

    /// The next message, or the error to answer a bad one with; `None` at the end of the stream.
    pub async fn next(&mut self) -> std::io::Result<Option<Result<Message, Invalid>>> {
        Ok(Some(match self.frames.next().await? {
            None => return Ok(None),
            Some(Frame::Error(e)) => Err(Invalid {
                id: Id::Null,
                error: e.to_rpc(),
            }),
            Some(Frame::Body(body)) => {
                let parsed = Message::parse(&body);
                if let Err(Invalid { id: Id::Null, .. }) = &parsed
                    && let Some(k) = swallowed_frame(&body)
                {
                    // The Content-Length was too long and the body swallowed the next frame's start.
                    self.frames.unread(&body[k..]);
                }
                parsed
            }
        }))
    }
}

/// Where the start of another frame sits inside a body that did not parse: a whole `Content-Length:`
/// after the first byte, or a piece of one at the very end.
fn swallowed_frame(body: &[u8]) -> Option<usize> {
    find_header(body).filter(|&k| k > 0).or_else(|| {
        (1..HEADER.len().min(body.len()))
            .rev()
            .find(|&n| body[body.len() - n..].eq_ignore_ascii_case(&HEADER[..n]))
            .map(|n| body.len() - n)
    })
}

/// Writes one framed message; returns its size in bytes.
pub async fn write_message<W: AsyncWrite + Unpin>(
    out: &mut W,
    message: &Message,
) -> std::io::Result<usize> {
    let body = message.to_bytes();
    let mut frame = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    frame.extend_from_slice(&body);
    out.write_all(&frame).await?;
    out.flush().await?;
    Ok(frame.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &str) -> String {
        format!("Content-Length: {}\r\n\r\n{body}", body.len())
    }

    async fn read_all(input: &[u8], max: usize) -> Vec<Frame> {
        let mut r = FrameReader::new(input, max);
        let mut out = Vec::new();
        while let Some(f) = r.next().await.unwrap() {
            out.push(f);
        }
        out
    }

    fn body(s: &str) -> Frame {
        Frame::Body(s.as_bytes().to_vec())
    }

    #[tokio::test]
    async fn reads_consecutive_frames_with_optional_headers() {
        let input = format!(
            "{}Content-Type: application/vscode-jsonrpc; charset=utf-8\r\ncontent-length: 2\r\n\r\n{{}}\n\n{}",
            frame("[1]"),
            frame("\"é\"")
        );
        assert_eq!(
            read_all(input.as_bytes(), 1024).await,
            [body("[1]"), body("{}"), body("\"é\"")]
        );
    }

    #[tokio::test]
    async fn garbage_is_skipped_and_reported_once() {
        let input = format!("hello there\r\n{}junk{}", frame("1"), frame("2"));
        let frames = read_all(input.as_bytes(), 1024).await;
        assert!(
            matches!(
                &frames[0],
                Frame::Error(FrameError::Garbage { skipped: 13, .. })
            ),
            "{frames:?}"
        );
        assert_eq!(frames[1], body("1"));
        assert!(matches!(
            &frames[2],
            Frame::Error(FrameError::Garbage { skipped: 4, .. })
        ));
        assert_eq!(frames[3], body("2"));
        assert_eq!(frames.len(), 4);
    }

    #[tokio::test]
    async fn bad_or_missing_lengths_are_errors_and_reading_goes_on() {
        let input = format!(
            "Content-Length: ten\r\n\r\nX-Other: 1\r\n\r\n{}",
            frame("ok")
        );
        let frames = read_all(input.as_bytes(), 1024).await;
        assert_eq!(
            frames[0],
            Frame::Error(FrameError::BadLength {
                value: "ten".into()
            })
        );
        assert_eq!(frames[1], Frame::Error(FrameError::MissingLength));
        assert_eq!(frames[2], body("ok"));
    }

    #[tokio::test]
    async fn a_too_large_frame_is_refused_and_skipped() {
        let big = "x".repeat(5000);
        let input = format!("{}{}", frame(&big), frame("next"));
        let frames = read_all(input.as_bytes(), 4096).await;
        assert_eq!(
            frames[0],
            Frame::Error(FrameError::TooLarge {
                length: 5000,
                max: 4096
            })
        );
        assert_eq!(frames[1], body("next"));
    }

    #[tokio::test]
    async fn frames_split_across_reads_are_reassembled() {
        let input = format!("{}{}", frame("{\"a\":1}"), frame("[2]"));
        let (mut tx, rx) = tokio::io::duplex(3);
        let writer = tokio::spawn(async move {
            for b in input.as_bytes().chunks(1) {
                tx.write_all(b).await.unwrap();
            }
        });
        let mut r = FrameReader::new(rx, 1024);
        assert_eq!(r.next().await.unwrap(), Some(body("{\"a\":1}")));
        assert_eq!(r.next().await.unwrap(), Some(body("[2]")));
        writer.await.unwrap();
        assert_eq!(r.next().await.unwrap(), None);
    }

    #[tokio::test]
    async fn wrong_content_lengths_lose_only_the_bad_message() {
        let good = r#"{"jsonrpc":"2.0","id":2,"method":"m"}"#;
        let bad = r#"{"jsonrpc":"2.0","id":1,"method":"m"}"#;
        // Too short: the body is cut, the rest is garbage before the next frame.
        let short = format!("Content-Length: 10\r\n\r\n{bad}{}", frame(good));
        // Too long: the body swallows the start of the next frame (its header, or more), which is
        // given back.
        let long = |extra: usize| {
            format!(
                "Content-Length: {}\r\n\r\n{bad}{}",
                bad.len() + extra,
                frame(good)
            )
        };
        for input in [short, long(12), long(30)] {
            let mut r = MessageReader::new(input.as_bytes(), 1024);
            let mut answered = Vec::new();
            while let Some(m) = r.next().await.unwrap() {
                answered.push(m);
            }
            let last = answered.pop().unwrap().unwrap();
            assert!(
                matches!(last, Message::Request(ref q) if q.id == Id::Number(2)),
                "{last:?}"
            );
            assert!(
                answered
                    .iter()
                    .all(|m| m.as_ref().is_err_and(|e| e.id == Id::Null)),
                "{answered:?}"
            );
            assert!(!answered.is_empty());
        }
    }

    #[tokio::test(start_paused = true)]
    async fn large_bodies_share_a_budget_and_must_keep_arriving() {
        let budget = FrameBudget::new(300_000);
        // A holds 200,000 bytes of budget and stops halfway through its body.
        let (mut a_tx, a_rx) = tokio::io::duplex(1 << 20);
        a_tx.write_all(b"Content-Length: 200000\r\n\r\n")
            .await
            .unwrap();
        a_tx.write_all(&[b' '; 100_000]).await.unwrap();
        let mut a = FrameReader::new(a_rx, 1 << 20).with_budget(budget.clone());
        let a_next = tokio::spawn(async move { a.next().await });
        tokio::task::yield_now().await;

        // B's 150,000 bytes do not fit beside it: after waiting, B's frame is skipped with an
        // error that says why, and B's next frame is read.
        let (mut b_tx, b_rx) = tokio::io::duplex(1 << 20);
        let mut bytes = format!("Content-Length: 150000\r\n\r\n{}", " ".repeat(150_000));
        bytes.push_str(&frame("[3]"));
        b_tx.write_all(bytes.as_bytes()).await.unwrap();
        let mut b = FrameReader::new(b_rx, 1 << 20).with_budget(budget.clone());
        assert_eq!(
            b.next().await.unwrap(),
            Some(Frame::Error(FrameError::Busy { length: 150_000 }))
        );
        assert_eq!(b.next().await.unwrap(), Some(body("[3]")));

        // A sends nothing more: its connection ends with a timeout, and its budget comes back.
        let ended = a_next.await.unwrap();
        assert_eq!(
            ended.unwrap_err().kind(),
            std::io::ErrorKind::TimedOut,
            "a stalled large body ends its connection"
        );
        let mut c_bytes = format!("Content-Length: 250000\r\n\r\n{}", "x".repeat(250_000));
        c_bytes.push_str(&frame("[4]"));
        let mut c = FrameReader::new(c_bytes.as_bytes(), 1 << 20).with_budget(budget);
        assert!(matches!(c.next().await.unwrap(), Some(Frame::Body(b)) if b.len() == 250_000));
        assert_eq!(c.next().await.unwrap(), Some(body("[4]")));
        drop(a_tx);
    }

    #[tokio::test]
    async fn the_read_buffer_shrinks_after_a_large_frame() {
        let big = "y".repeat(3 << 20);
        let input = format!("{}{}", frame(&big), frame("[5]"));
        let mut r = FrameReader::new(input.as_bytes(), 8 << 20);
        assert!(matches!(r.next().await.unwrap(), Some(Frame::Body(b)) if b.len() == 3 << 20));
        assert!(r.buf.capacity() <= 4 * READ_CHUNK, "{}", r.buf.capacity());
        assert_eq!(r.next().await.unwrap(), Some(body("[5]")));
    }
}
