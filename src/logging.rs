//! Process logging: `tracing` for everything, a request id on every line a request causes,
//! and a direct path for the access log.
//!
//! Every line goes to one background thread ([`LineSink`]) that writes them to stderr in
//! batches, so a request never waits on a write. Measured on the bench
//! machine (server pinned to one core), `tracing_subscriber`'s stock path cost ≈ 3 µs a request
//! in the default configuration: a span per request (≈ 1 µs: a registry slot, its fields
//! formatted into a fresh `String`, entered and left on every poll) and the access line
//! (≈ 2 µs: a timestamp formatted from scratch, every field through `Debug`, ANSI styling even
//! when disabled). That was 7 % of a token request and 35 % of a JWKS request. So:
//!
//! - the request id is a task-local ([`in_request`]) that our line formats read, not a span;
//! - the access line (target `tessera::http`) is formatted here, in the shape of every other
//!   line, into a reused per-thread buffer;
//! - timestamps reuse the date and time of day formatted once a second;
//! - a line is appended to a shared buffer, not copied into an allocation of its own and sent
//!   through a channel (`tracing_appender::non_blocking`); the writer thread writes everything
//!   gathered in one call.
//!
//! `RUST_LOG` still decides what is written: the level checks are `tracing`'s.

use std::cell::RefCell;
use std::io::Write;
use std::net::IpAddr;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tracing::{Event, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{Format, Json, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The filter when `RUST_LOG` is unset: requests and lifecycle at info, the database layers'
/// per-statement chatter only when it matters.
const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm=warn";

/// The shape of access lines, once [`init`] has run (they go to [`LINES`]).
struct AccessFormat {
    json: bool,
}

static ACCESS_FORMAT: OnceLock<AccessFormat> = OnceLock::new();

/// Every line of the process on its way to stderr.
static LINES: LineSink = LineSink::new();

/// Installs the global subscriber (text, or JSON with `TESSERA_LOG_FORMAT=json`) writing to
/// stderr through a background thread. Keep the guard alive: dropping it writes what is queued.
pub fn init() -> FlushOnExit {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let writer = std::thread::Builder::new()
        .name("tessera-log".into())
        .spawn(|| LINES.run(&mut std::io::stderr()))
        .ok();
    // Colours only for a person at a terminal, not in files and log pipelines.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let json = std::env::var("TESSERA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let _ = ACCESS_FORMAT.set(AccessFormat { json });
    // Lines still gathering when a panic ends the process are the ones that explain it.
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        LINES.write_now(&mut std::io::stderr());
        report(info);
    }));
    let logs = tracing_subscriber::fmt()
        .with_writer(|| LineWriter(&LINES))
        .with_ansi(ansi)
        .with_env_filter(filter);
    if json {
        logs.json()
            .event_format(JsonLine(tracing_subscriber::fmt::format().json()))
            .init();
    } else {
        logs.event_format(TextLine { ansi }).init();
    }
    FlushOnExit(writer)
}

/// Writes every queued line and stops the writer thread when dropped (at the end of `main`),
/// waiting at most a second for stderr.
#[must_use = "dropping it at once stops the log writer"]
pub struct FlushOnExit(Option<JoinHandle<()>>);

impl Drop for FlushOnExit {
    fn drop(&mut self) {
        let Some(writer) = self.0.take() else {
            return;
        };
        LINES.close();
        // A stderr nobody reads (a full pipe) must not keep the process from exiting: wait a
        // second at most, as tracing-appender's guard did.
        let deadline = Instant::now() + Duration::from_secs(1);
        while !writer.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        if writer.is_finished() {
            let _ = writer.join();
        }
    }
}

/// Lines waiting for the writer thread. A line costs a lock and a copy. The writer lets lines
/// gather for [`LineSink::GATHER`] (or until [`LineSink::WAKE_AT`] bytes wait) and writes them
/// in one call; it sleeps until a line arrives only after a quiet period. Under load it wakes
/// on its own clock, about fifty times a second whatever the request rate. Measured, server
/// pinned to one core: waking the writer whenever it had caught up cost up to two context
/// switches a request; waking it with the first line after each write, with 5 ms batches,
/// still preempted the worker 380 times a second.
struct LineSink {
    pending: Mutex<Pending>,
    wake: Condvar,
}

struct Pending {
    lines: Vec<u8>,
    writer: WriterState,
    closing: bool,
    /// Lines refused because stderr fell [`LineSink::MAX_PENDING`] bytes behind.
    dropped: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum WriterState {
    /// Writing, or about to look at `lines` again: nobody needs to wake it.
    Busy,
    /// Waiting for a first line: the next line wakes it.
    Idle,
    /// Letting lines gather: only a full buffer (or closing) wakes it early.
    Gathering,
}

impl LineSink {
    /// How long lines gather before they are written (and how late a line may appear).
    const GATHER: Duration = Duration::from_millis(20);
    /// Written at once, without waiting out [`Self::GATHER`], from this many bytes (JWKS
    /// requests at full rate fill it in about 20 ms).
    const WAKE_AT: usize = 256 << 10;
    /// If stderr falls this far behind, lines are dropped (and counted) rather than queued
    /// without bound or slowing the server.
    const MAX_PENDING: usize = 16 << 20;

    const fn new() -> Self {
        LineSink {
            pending: Mutex::new(Pending {
                lines: Vec::new(),
                writer: WriterState::Busy,
                closing: false,
                dropped: 0,
            }),
            wake: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding the lock leaves at worst a partial line: keep logging.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues one or more whole lines.
    fn push(&self, line: &[u8]) {
        let mut pending = self.lock();
        if pending.lines.len() + line.len() > Self::MAX_PENDING {
            pending.dropped += 1;
            return;
        }
        pending.lines.extend_from_slice(line);
        let wake = match pending.writer {
            WriterState::Busy => false,
            WriterState::Idle => true,
            WriterState::Gathering => pending.lines.len() >= Self::WAKE_AT,
        };
        if wake {
            pending.writer = WriterState::Busy;
            drop(pending);
            self.wake.notify_one();
        }
    }

    fn close(&self) {
        self.lock().closing = true;
        self.wake.notify_one();
    }

    /// Writes what is queued, from the calling thread (a panic is about to end the process).
    fn write_now(&self, out: &mut impl Write) {
        let lines = std::mem::take(&mut self.lock().lines);
        let _ = out.write_all(&lines);
        let _ = out.flush();
    }

    /// Lets lines gather for [`Self::GATHER`], unless [`Self::WAKE_AT`] bytes or closing cut
    /// it short.
    fn gather<'a>(&self, mut pending: MutexGuard<'a, Pending>) -> MutexGuard<'a, Pending> {
        let until = Instant::now() + Self::GATHER;
        while !pending.closing && pending.lines.len() < Self::WAKE_AT {
            let Some(left) = until.checked_duration_since(Instant::now()) else {
                break;
            };
            pending.writer = WriterState::Gathering;
            pending = self
                .wake
                .wait_timeout(pending, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        pending
    }

    fn wait<'a>(&self, pending: MutexGuard<'a, Pending>) -> MutexGuard<'a, Pending> {
        self.wake
            .wait(pending)
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The writer thread: until [`close`](Self::close), then until nothing is left.
    fn run(&self, out: &mut impl Write) {
        let mut batch = Vec::with_capacity(Self::WAKE_AT);
        loop {
            // After a write, lines gather on the writer's own clock: under steady traffic it
            // wakes once a GATHER and nobody has to wake it. Only a quiet period sends it idle.
            let mut pending = self.gather(self.lock());
            while pending.lines.is_empty() && !pending.closing {
                pending.writer = WriterState::Idle;
                pending = self.wait(pending);
                pending = self.gather(pending);
            }
            pending.writer = WriterState::Busy;
            if pending.lines.is_empty() {
                return; // closing, and everything written
            }
            std::mem::swap(&mut pending.lines, &mut batch);
            let dropped = std::mem::take(&mut pending.dropped);
            drop(pending);
            // Nowhere to report a failed write to stderr; the next batch tries again.
            let _ = out.write_all(&batch);
            if dropped > 0 {
                let _ = writeln!(
                    out,
                    "tessera: {dropped} log lines dropped: stderr fell behind by {} MiB",
                    Self::MAX_PENDING >> 20
                );
            }
            let _ = out.flush();
            batch.clear();
            // A burst's buffer is not kept for ever.
            batch.shrink_to(1 << 20);
        }
    }
}

/// `tracing_subscriber` writes each formatted event with one `write_all`: one whole line.
struct LineWriter(&'static LineSink);

impl Write for LineWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.push(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A request id: 128 random bits, base64url, on the stack (no allocation per request).
#[derive(Clone, Copy)]
pub struct RequestId([u8; 22]);

impl RequestId {
    pub fn new() -> Self {
        use base64::Engine;
        use rand::RngCore;
        let mut random = [0u8; 16];
        rand::rng().fill_bytes(&mut random);
        let mut text = [0u8; 22];
        // 16 bytes are always 22 base64url characters, so the slice always fits.
        let _ = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode_slice(random, &mut text);
        RequestId(text)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        // base64url is ASCII.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl Default for RequestId {
    fn default() -> Self {
        Self::new()
    }
}

tokio::task_local! {
    static CURRENT_REQUEST: RequestId;
}

/// Runs a request's future with its id on every line it logs (`request{id=…}:` in text,
/// `"request_id"` in JSON). Work the request hands to another task or thread is not covered.
pub fn in_request<F: std::future::Future>(
    id: RequestId,
    request: F,
) -> impl std::future::Future<Output = F::Output> {
    CURRENT_REQUEST.scope(id, request)
}

fn current_request() -> Option<RequestId> {
    CURRENT_REQUEST.try_with(|id| *id).ok()
}

/// `2026-12-03T02:30:01.123456Z  INFO request{id=…}: span{…}: target: message field=value`:
/// `tracing_subscriber`'s full format, the request id first among the spans.
struct TextLine {
    ansi: bool,
}

impl<S, N> FormatEvent<S, N> for TextLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        // Records from the `log` crate (rustls, actix, sqlx) arrive with target `log`; their
        // own target and level are in fields, which the stock format also restores.
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        let stamp = CLOCK.with_borrow_mut(|clock| clock.stamp(now()));
        let stamp = std::str::from_utf8(&stamp).unwrap_or_default();
        let (dim, bold, reset) = if self.ansi {
            ("\x1b[2m", "\x1b[1m", "\x1b[0m")
        } else {
            ("", "", "")
        };
        let level = *meta.level();
        let colour = match (self.ansi, level) {
            (false, _) => "",
            (true, tracing::Level::ERROR) => "\x1b[31m",
            (true, tracing::Level::WARN) => "\x1b[33m",
            (true, tracing::Level::INFO) => "\x1b[32m",
            (true, tracing::Level::DEBUG) => "\x1b[34m",
            (true, tracing::Level::TRACE) => "\x1b[35m",
        };
        write!(writer, "{dim}{stamp}{reset} {colour}{level:>5}{reset} ")?;
        let mut any_span = false;
        if let Some(id) = current_request() {
            write!(
                writer,
                "{bold}request{reset}{{id={}}}{dim}:{reset}",
                id.as_str()
            )?;
            any_span = true;
        }
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                write!(writer, "{bold}{}{reset}", span.name())?;
                if let Some(fields) = span.extensions().get::<FormattedFields<N>>()
                    && !fields.is_empty()
                {
                    write!(writer, "{bold}{{{reset}{fields}{bold}}}{reset}")?;
                }
                write!(writer, "{dim}:{reset}")?;
                any_span = true;
            }
        }
        if any_span {
            writer.write_char(' ')?;
        }
        write!(writer, "{dim}{}:{reset} ", meta.target())?;
        ctx.format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// `tracing_subscriber`'s JSON object with `"request_id"` first when the line comes from a
/// request.
struct JsonLine(Format<Json>);

impl<S, N> FormatEvent<S, N> for JsonLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let Some(id) = current_request() else {
            return self.0.format_event(ctx, writer, event);
        };
        let mut object = String::new();
        self.0.format_event(ctx, Writer::new(&mut object), event)?;
        match object.strip_prefix('{') {
            Some(rest) => write!(writer, "{{\"request_id\":\"{}\",{rest}", id.as_str()),
            None => writer.write_str(&object),
        }
    }
}

fn now() -> std::time::Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

thread_local! {
    static CLOCK: RefCell<ClockCache> = const { RefCell::new(ClockCache::new()) };
}

/// Whether access lines are written (`tessera::http` at info passes the filter).
pub fn access_log_enabled() -> bool {
    tracing::enabled!(target: "tessera::http", tracing::Level::INFO)
}

/// One request, as the access log records it. The path only: a query string may carry
/// anything (an enrollment link's token is a credential).
pub struct AccessLine<'a> {
    pub request_id: &'a str,
    pub peer: Option<IpAddr>,
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub micros: u64,
}

impl AccessLine<'_> {
    /// Writes the line, or hands it to `tracing` when [`init`] has not run (the library used
    /// on its own, as in tests).
    pub fn write(&self) {
        let Some(format) = ACCESS_FORMAT.get() else {
            let _span = tracing::info_span!("request", id = %self.request_id).entered();
            tracing::info!(
                target: "tessera::http",
                peer = %Peer(self.peer),
                method = %self.method,
                path = %self.path,
                status = self.status,
                micros = self.micros,
                "request"
            );
            return;
        };
        thread_local! {
            static LINE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
        }
        let stamp = CLOCK.with_borrow_mut(|clock| clock.stamp(now()));
        LINE.with_borrow_mut(|buf| {
            buf.clear();
            if format.json {
                self.json(buf, &stamp);
            } else {
                self.text(buf, &stamp);
            }
            LINES.push(buf);
        });
    }

    /// `2026-12-03T02:30:01.123456Z  INFO request{id=…}: tessera::http: request peer=… …`,
    /// `tracing_subscriber`'s full format without colours.
    fn text(&self, buf: &mut Vec<u8>, stamp: &[u8]) {
        buf.extend_from_slice(stamp);
        buf.extend_from_slice(b"  INFO request{id=");
        buf.extend_from_slice(self.request_id.as_bytes());
        buf.extend_from_slice(b"}: tessera::http: request peer=");
        Peer(self.peer).write_to(buf);
        buf.extend_from_slice(b" method=");
        buf.extend_from_slice(self.method.as_bytes());
        buf.extend_from_slice(b" path=");
        // As the subscriber writes a `%` (Display) field.
        buf.extend_from_slice(self.path.as_bytes());
        buf.extend_from_slice(b" status=");
        buf.extend_from_slice(itoa::Buffer::new().format(self.status).as_bytes());
        buf.extend_from_slice(b" micros=");
        buf.extend_from_slice(itoa::Buffer::new().format(self.micros).as_bytes());
        buf.push(b'\n');
    }

    /// The object [`JsonLine`] writes for the same event.
    fn json(&self, buf: &mut Vec<u8>, stamp: &[u8]) {
        buf.extend_from_slice(b"{\"request_id\":\"");
        buf.extend_from_slice(self.request_id.as_bytes());
        buf.extend_from_slice(b"\",\"timestamp\":\"");
        buf.extend_from_slice(stamp);
        buf.extend_from_slice(
            b"\",\"level\":\"INFO\",\"fields\":{\"message\":\"request\",\"peer\":\"",
        );
        Peer(self.peer).write_to(buf);
        buf.extend_from_slice(b"\",\"method\":");
        let _ = serde_json::to_writer(&mut *buf, self.method);
        buf.extend_from_slice(b",\"path\":");
        let _ = serde_json::to_writer(&mut *buf, self.path);
        buf.extend_from_slice(b",\"status\":");
        buf.extend_from_slice(itoa::Buffer::new().format(self.status).as_bytes());
        buf.extend_from_slice(b",\"micros\":");
        buf.extend_from_slice(itoa::Buffer::new().format(self.micros).as_bytes());
        buf.extend_from_slice(b"},\"target\":\"tessera::http\"}\n");
    }
}

/// The peer address, or `-` when there is none (a Unix socket, a test request).
struct Peer(Option<IpAddr>);

impl Peer {
    /// As `Display` writes it. An IPv4 address (nearly every peer) is four numbers written
    /// directly: the formatter's padding machinery cost more than the rest of the line.
    fn write_to(&self, buf: &mut Vec<u8>) {
        match self.0 {
            Some(IpAddr::V4(ip)) => {
                let [a, b, c, d] = ip.octets();
                let mut digits = itoa::Buffer::new();
                buf.extend_from_slice(digits.format(a).as_bytes());
                for octet in [b, c, d] {
                    buf.push(b'.');
                    buf.extend_from_slice(digits.format(octet).as_bytes());
                }
            }
            _ => {
                let _ = write!(buf, "{self}");
            }
        }
    }
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(ip) => ip.fmt(f),
            None => f.write_str("-"),
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS` of the current second, formatted when the second changes.
struct ClockCache {
    second: u64,
    text: [u8; 19],
}

impl ClockCache {
    const fn new() -> Self {
        ClockCache {
            second: u64::MAX,
            text: [0; 19],
        }
    }

    /// `2026-12-03T02:30:01.123456Z` (UTC, microseconds, as `tracing_subscriber` writes it).
    fn stamp(&mut self, now: std::time::Duration) -> [u8; 27] {
        let second = now.as_secs();
        if second != self.second {
            let formatted = i64::try_from(second)
                .ok()
                .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
                .unwrap_or_default()
                .format("%Y-%m-%dT%H:%M:%S")
                .to_string();
            if let Ok(text) = <[u8; 19]>::try_from(formatted.as_bytes()) {
                self.text = text;
                self.second = second;
            }
        }
        let mut stamp = *b"0000-00-00T00:00:00.000000Z";
        stamp[..19].copy_from_slice(&self.text);
        let mut micros = now.subsec_micros();
        for digit in stamp[20..26].iter_mut().rev() {
            *digit = b'0' + (micros % 10) as u8;
            micros /= 10;
        }
        stamp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_match_the_subscribers_shape() {
        let mut clock = ClockCache::new();
        let stamp = clock.stamp(std::time::Duration::new(1_796_265_001, 7_000));
        assert_eq!(&stamp, b"2026-12-03T02:30:01.000007Z");
        let stamp = clock.stamp(std::time::Duration::new(1_796_265_001, 999_999_999));
        assert_eq!(&stamp, b"2026-12-03T02:30:01.999999Z");
        let stamp = clock.stamp(std::time::Duration::new(1_796_265_002, 0));
        assert_eq!(&stamp, b"2026-12-03T02:30:02.000000Z");
    }

    #[test]
    fn the_sink_writes_every_line_in_order_and_stops_when_closed() {
        let sink = LineSink::new();
        let mut out = Vec::new();
        std::thread::scope(|s| {
            sink.push(b"before the writer\n");
            let writer = s.spawn(|| sink.run(&mut out));
            for i in 0..1000 {
                sink.push(format!("line {i}\n").as_bytes());
                if i % 100 == 0 {
                    // Longer than a gather after a write: the writer goes idle.
                    std::thread::sleep(LineSink::GATHER * 3);
                }
            }
            sink.close();
            writer.join().unwrap();
        });
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1001);
        assert_eq!(lines[0], "before the writer");
        assert!(
            lines[1..]
                .iter()
                .enumerate()
                .all(|(i, l)| *l == format!("line {i}"))
        );
    }

    #[test]
    fn lines_beyond_the_limit_are_dropped_and_counted() {
        let sink = LineSink::new();
        let big = vec![b'x'; LineSink::MAX_PENDING - 1];
        sink.push(&big);
        sink.push(b"does not fit\n");
        sink.push(b"nor this\n");
        sink.close();
        let mut out = Vec::new();
        sink.run(&mut out);
        let tail = String::from_utf8_lossy(&out[big.len()..]).into_owned();
        assert_eq!(
            tail,
            "tessera: 2 log lines dropped: stderr fell behind by 16 MiB\n"
        );
    }

    #[test]
    fn peers_are_written_as_display_writes_them() {
        let peers = [
            None,
            Some("0.0.0.0".parse().unwrap()),
            Some("127.0.0.1".parse().unwrap()),
            Some("255.255.255.255".parse().unwrap()),
            Some("10.20.3.104".parse().unwrap()),
            Some("::1".parse().unwrap()),
            Some("::ffff:192.0.2.1".parse().unwrap()),
            Some("2001:db8::8a2e:370:7334".parse().unwrap()),
        ];
        for peer in peers {
            let mut buf = Vec::new();
            Peer(peer).write_to(&mut buf);
            assert_eq!(String::from_utf8(buf).unwrap(), Peer(peer).to_string());
        }
    }

    #[test]
    fn access_lines_are_one_object_or_one_text_line() {
        let line = AccessLine {
            request_id: "AbC",
            peer: Some("127.0.0.1".parse().unwrap()),
            method: "POST",
            path: "/a\"b",
            status: 200,
            micros: 42,
        };
        let stamp = ClockCache::new().stamp(std::time::Duration::new(1_796_265_001, 0));
        let mut buf = Vec::new();
        line.json(&mut buf, &stamp);
        assert_eq!(buf.last(), Some(&b'\n'));
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v["fields"]["path"], "/a\"b");
        assert_eq!(v["fields"]["status"], 200);
        assert_eq!(v["request_id"], "AbC");
        assert_eq!(v["timestamp"], "2026-12-03T02:30:01.000000Z");
        buf.clear();
        line.text(&mut buf, &stamp);
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "2026-12-03T02:30:01.000000Z  INFO request{id=AbC}: tessera::http: request \
             peer=127.0.0.1 method=POST path=/a\"b status=200 micros=42\n"
        );
    }
}
