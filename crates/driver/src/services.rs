//! Version detection's I/O: the connections and datagrams that carry the
//! probes a [`Plan`] chooses, TLS when a port speaks it, and the hand-off of
//! finished hosts to the sinks.
//!
//! Hosts arrive from the port scan as it finishes them and are probed on a
//! thread of their own (a single-threaded async runtime), so version
//! detection overlaps the rest of the port scan. Per port, the banner wait
//! (the NULL probe) runs beside the first probe the plan names, on separate
//! connections, and later probes go two at a time: a port whose banner or
//! first answer names it costs one round trip, not the banner timeout.
//!
//! Everything is bounded: ports probed at once, bytes kept per answer, time
//! per connection attempt, handshake and answer. A server that never stops
//! talking costs at most the probe's wait and [`MAX_RESPONSE`] bytes.
//!
//! Each port keeps the start of every answer it got (a few KiB at most), so
//! that a port that answered but was not named gets Nmap's service
//! fingerprint, and the page title of each HTTP answer, so that a port
//! named HTTP gets its `http-title`. When an HTTP answer is named before
//! its page has arrived, the rest is read (within the probe's wait, while
//! the server keeps sending) for the title.

use crate::tls;
use futures_util::stream::{FuturesUnordered, StreamExt};
use openssl::ssl::SslConnector;
use portolan_model::{
    HostResult, HostStatus, PortResult, PortState, Protocol, ServiceInfo, ServiceMethod, TlsInfo,
    Tunnel,
};
use portolan_output::Sink;
use portolan_services::fingerprint::{RESPONSE_MAX, SOFT_LIMIT};
use portolan_services::{
    http_title, page_complete, service_fingerprint, End, FingerprintMeta, HttpTitle, Outcome, Plan,
    PlanConfig, ProbeDb, ProbeStep, ServiceMatch,
};
use std::cell::RefCell;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{mpsc, Semaphore};
use tokio::time::{timeout_at, Instant};

/// Bytes of one answer kept for matching; the rest is not read.
pub const MAX_RESPONSE: usize = 64 * 1024;

/// What version detection is asked to do.
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    pub db: Arc<ProbeDb>,
    /// `--version-intensity`, 0..=9.
    pub intensity: u8,
    /// Ports probed at once across all hosts.
    pub parallel: usize,
    /// Longest wait for a TCP connection or a TLS handshake.
    pub connect_timeout: Duration,
    /// Set on interrupt: hosts still being probed are handed back as they are.
    pub stop: Arc<AtomicBool>,
}

/// Counters of one run, readable while it goes.
#[derive(Debug, Default)]
pub struct ServiceStats {
    pub ports: AtomicU64,
    pub identified: AtomicU64,
    pub tls: AtomicU64,
    /// Answers cut at [`MAX_RESPONSE`].
    pub truncated: AtomicU64,
}

/// Version detection running beside the port scan.
#[derive(Debug)]
pub struct ServiceScanner {
    tx: Option<mpsc::UnboundedSender<HostResult>>,
    done: std::sync::mpsc::Receiver<HostResult>,
    thread: Option<std::thread::JoinHandle<()>>,
    pending: usize,
    pub stats: Arc<ServiceStats>,
    hosts: u64,
    /// Hosts the runtime could not take, handed back as they came.
    orphans: Vec<HostResult>,
}

impl ServiceScanner {
    pub fn start(opts: ServiceOptions) -> io::Result<ServiceScanner> {
        let (tx, rx) = mpsc::unbounded_channel();
        let (done_tx, done) = std::sync::mpsc::channel();
        let stats = Arc::new(ServiceStats::default());
        let shared = stats.clone();
        let thread = std::thread::Builder::new()
            .name("portolan-sv".into())
            .spawn(move || serve(opts, rx, done_tx, shared))?;
        Ok(ServiceScanner {
            tx: Some(tx),
            done,
            thread: Some(thread),
            pending: 0,
            stats,
            hosts: 0,
            orphans: Vec::new(),
        })
    }

    /// Queues `host` for probing; it comes back from [`ready`](Self::ready)
    /// or [`finish`](Self::finish) with its services filled in.
    pub fn submit(&mut self, host: HostResult) {
        self.pending += 1;
        self.hosts += 1;
        if let Some(tx) = &self.tx {
            if let Err(e) = tx.send(host) {
                // The runtime is gone: hand the host back untouched.
                self.pending -= 1;
                self.orphans.push(e.0);
            }
        }
    }

    /// Hosts finished so far, without waiting.
    pub fn ready(&mut self) -> Vec<HostResult> {
        let mut out = std::mem::take(&mut self.orphans);
        while let Ok(h) = self.done.try_recv() {
            self.pending = self.pending.saturating_sub(1);
            out.push(h);
        }
        out
    }

    /// Every host still being probed, once done (or handed back on stop).
    pub fn finish(&mut self) -> Vec<HostResult> {
        self.tx = None;
        let mut out = std::mem::take(&mut self.orphans);
        while self.pending > 0 {
            match self.done.recv() {
                Ok(h) => {
                    self.pending -= 1;
                    out.push(h);
                }
                Err(_) => break,
            }
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        out
    }

    /// Hosts submitted so far.
    pub fn hosts(&self) -> u64 {
        self.hosts
    }
}

/// The probing thread: one async runtime, hosts taken as they come.
fn serve(
    opts: ServiceOptions,
    mut rx: mpsc::UnboundedReceiver<HostResult>,
    done: std::sync::mpsc::Sender<HostResult>,
    stats: Arc<ServiceStats>,
) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(_) => {
            // No runtime: every host goes back as the port scan left it.
            while let Some(h) = rx.blocking_recv() {
                let _ = done.send(h);
            }
            return;
        }
    };
    let local = tokio::task::LocalSet::new();
    let ctx = Rc::new(Ctx {
        connector: tls::scan_connector().ok(),
        sem: Rc::new(Semaphore::new(opts.parallel.max(1))),
        stats,
        opts,
    });
    local.block_on(&rt, async move {
        let mut tasks = Vec::new();
        while let Some(host) = rx.recv().await {
            let ctx = ctx.clone();
            let done = done.clone();
            tasks.push(tokio::task::spawn_local(async move {
                let fallback = host.clone();
                let probed = tokio::select! {
                    h = probe_host(&ctx, host) => h,
                    () = stopped(&ctx.opts.stop) => fallback,
                };
                let _ = done.send(probed);
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
}

/// Resolves once the stop flag is set (checked every 50 ms).
async fn stopped(stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

struct Ctx {
    opts: ServiceOptions,
    connector: Option<SslConnector>,
    sem: Rc<Semaphore>,
    stats: Arc<ServiceStats>,
}

/// Whether version detection probes `p`: open ports, and UDP ports that may
/// be open (`open|filtered`), unless the database excludes them.
fn wanted(p: &PortResult, db: &ProbeDb) -> bool {
    let state_ok = match p.protocol {
        Protocol::Tcp => p.state == PortState::Open,
        Protocol::Udp => matches!(p.state, PortState::Open | PortState::OpenFiltered),
    };
    state_ok && !db.excluded(p.protocol, p.port)
}

/// Whether `host` has anything for version detection.
pub fn has_work(host: &HostResult, db: &ProbeDb) -> bool {
    host.status == HostStatus::Up && !host.timed_out && host.ports.iter().any(|p| wanted(p, db))
}

async fn probe_host(ctx: &Ctx, mut host: HostResult) -> HostResult {
    let addr = host.addr;
    let jobs: Vec<(usize, Protocol, u16)> = host
        .ports
        .iter()
        .enumerate()
        .filter(|(_, p)| wanted(p, &ctx.opts.db))
        .map(|(i, p)| (i, p.protocol, p.port))
        .collect();
    let futs = jobs.into_iter().map(|(i, proto, port)| async move {
        let _permit = ctx.sem.acquire().await;
        ctx.stats.ports.fetch_add(1, Ordering::Relaxed);
        (i, detect(ctx, addr, proto, port).await)
    });
    for (i, found) in futures_util::future::join_all(futs).await {
        if let Some(p) = host.ports.get_mut(i) {
            apply(p, found, ctx);
        }
    }
    host
}

/// What detection found on one port.
struct Found {
    port: u16,
    proto: Protocol,
    outcome: Outcome,
    tunnel: bool,
    tls: Option<TlsInfo>,
    /// What the probes of the plan that decided (inside TLS, if unwrapped)
    /// got back.
    answers: Answers,
}

async fn detect(ctx: &Ctx, addr: IpAddr, proto: Protocol, port: u16) -> Found {
    let target = SocketAddr::new(addr, port);
    let (plain, answers) = run_plan(ctx, target, proto, None).await;
    let found = |outcome, tunnel, tls, answers| Found {
        port,
        proto,
        outcome,
        tunnel,
        tls,
        answers,
    };
    let (Outcome::Tls, Some(connector)) = (&plain, &ctx.connector) else {
        return found(plain, false, None, answers);
    };
    let session = RefCell::new(None);
    let (inner, answers) = run_plan(ctx, target, proto, Some((connector, &session))).await;
    let tls = session.into_inner();
    if tls.is_none() {
        // The port answered like TLS but no handshake completed.
        return found(Outcome::Tls, false, None, Answers::default());
    }
    ctx.stats.tls.fetch_add(1, Ordering::Relaxed);
    found(inner, true, tls, answers)
}

/// The probes whose answer is the page for the HTTP title (`GET /`): ours,
/// and the name Nmap's database gives the same request.
const HTTP_PROBES: [&str; 2] = ["HTTPGet", "GetRequest"];

/// What one plan's probes got back: the start of each answer, for the
/// service fingerprint, and the best HTTP page title seen.
#[derive(Debug, Default)]
struct Answers {
    /// (probe, first [`RESPONSE_MAX`] bytes) in arrival order; no more once
    /// [`SOFT_LIMIT`] bytes are kept, as the fingerprint would not show them.
    kept: Vec<(String, Vec<u8>)>,
    bytes: usize,
    /// Ranked: the answer to one of [`HTTP_PROBES`] first, then any with a real
    /// title, then any other HTTP answer; the first of a rank stays.
    title: Option<(u8, HttpTitle)>,
}

impl Answers {
    fn record(&mut self, probe: &str, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        if self.bytes < SOFT_LIMIT {
            let start = &data[..data.len().min(RESPONSE_MAX)];
            self.bytes += start.len();
            self.kept.push((probe.to_owned(), start.to_vec()));
        }
        if let Some(t) = http_title(data) {
            let rank = match (&t, HTTP_PROBES.contains(&probe)) {
                (_, true) => 0,
                (HttpTitle::Title(_), false) => 1,
                _ => 2,
            };
            if self.title.as_ref().is_none_or(|(best, _)| rank < *best) {
                self.title = Some((rank, t));
            }
        }
    }

    fn fingerprint(&self, meta: &FingerprintMeta<'_>) -> Option<String> {
        service_fingerprint(
            meta,
            self.kept.iter().map(|(p, d)| (p.as_str(), d.as_slice())),
        )
    }
}

type TlsSession<'s> = (&'s SslConnector, &'s RefCell<Option<TlsInfo>>);

/// Runs one plan to its outcome: the NULL probe beside the next, then two
/// probes at a time, each on its own connection (TCP) or socket (UDP).
async fn run_plan(
    ctx: &Ctx,
    target: SocketAddr,
    proto: Protocol,
    tls: Option<TlsSession<'_>>,
) -> (Outcome, Answers) {
    let cfg = PlanConfig {
        intensity: ctx.opts.intensity,
        tunnel: tls.is_some(),
    };
    let plan = RefCell::new(Plan::new(&ctx.opts.db, proto, target.port(), cfg));
    let answers = RefCell::new(Answers::default());
    let at_once = match proto {
        Protocol::Udp => 1,
        _ => 2,
    };
    let decided = {
        let mut running = FuturesUnordered::new();
        loop {
            while running.len() < at_once {
                let Some(step) = plan.borrow_mut().next_probe() else {
                    break;
                };
                running.push(run_probe(ctx, &plan, &answers, step, target, proto, tls));
            }
            match running.next().await {
                None => break None,
                Some(Some(outcome)) => break Some(outcome),
                Some(None) if plan.borrow().is_done() => break None,
                Some(None) => {}
            }
        }
    };
    let outcome = decided.unwrap_or_else(|| plan.into_inner().finish());
    (outcome, answers.into_inner())
}

/// Sends one probe and reads its answer; `Some` when the answer decided
/// the port.
async fn run_probe<'a>(
    ctx: &Ctx,
    plan: &RefCell<Plan<'a>>,
    answers: &RefCell<Answers>,
    step: ProbeStep<'a>,
    target: SocketAddr,
    proto: Protocol,
    tls: Option<TlsSession<'_>>,
) -> Option<Outcome> {
    let started = Instant::now();
    let deadline = started + step.wait;
    let id = step.id;
    let mut check = |data: &[u8]| plan.borrow_mut().on_data(id, data);
    let exchange = match proto {
        Protocol::Udp => udp_exchange(target, step.payload, deadline, &mut check).await,
        _ => tcp_exchange(ctx, target, step.payload, deadline, tls, &mut check).await,
    };
    match exchange {
        Exchange::Decided(o, data) => {
            answers.borrow_mut().record(step.name, &data);
            Some(*o)
        }
        Exchange::Ended(data, end, truncated) => {
            if truncated {
                ctx.stats.truncated.fetch_add(1, Ordering::Relaxed);
            }
            answers.borrow_mut().record(step.name, &data);
            plan.borrow_mut().on_end(id, &data, end, started.elapsed())
        }
    }
}

enum Exchange {
    /// The outcome, and the answer that decided it.
    Decided(Box<Outcome>, Vec<u8>),
    /// The answer (possibly empty), how reading ended, whether it was cut.
    Ended(Vec<u8>, End, bool),
}

trait Io: AsyncRead + AsyncWrite + Unpin {}
impl<T: AsyncRead + AsyncWrite + Unpin> Io for T {}

async fn tcp_exchange(
    ctx: &Ctx,
    target: SocketAddr,
    payload: &[u8],
    deadline: Instant,
    tls: Option<TlsSession<'_>>,
    check: &mut dyn FnMut(&[u8]) -> Option<Outcome>,
) -> Exchange {
    let connect_by = Instant::now() + ctx.opts.connect_timeout;
    let tcp = match timeout_at(connect_by, TcpStream::connect(target)).await {
        Ok(Ok(s)) => s,
        Ok(Err(_)) => return Exchange::Ended(Vec::new(), End::Reset, false),
        Err(_) => return Exchange::Ended(Vec::new(), End::Timeout, false),
    };
    let _ = tcp.set_nodelay(true);
    let mut stream: Box<dyn Io> = match tls {
        None => Box::new(tcp),
        Some((connector, session)) => match handshake(connector, tcp, connect_by).await {
            Some(s) => {
                if session.borrow().is_none() {
                    *session.borrow_mut() = Some(tls::session_info(s.ssl()));
                }
                Box::new(s)
            }
            None => return Exchange::Ended(Vec::new(), End::Reset, false),
        },
    };
    if !payload.is_empty() {
        let sent = timeout_at(deadline, stream.write_all(payload)).await;
        if !matches!(sent, Ok(Ok(()))) {
            return Exchange::Ended(Vec::new(), End::Reset, false);
        }
        let _ = timeout_at(deadline, stream.flush()).await;
    }
    read_answer(stream.as_mut(), deadline, check).await
}

async fn handshake(
    connector: &SslConnector,
    tcp: TcpStream,
    by: Instant,
) -> Option<tokio_openssl::SslStream<TcpStream>> {
    let ssl = connector
        .configure()
        .ok()?
        .verify_hostname(false)
        .use_server_name_indication(false)
        .into_ssl("")
        .ok()?;
    let mut s = tokio_openssl::SslStream::new(ssl, tcp).ok()?;
    match timeout_at(by, Pin::new(&mut s).connect()).await {
        Ok(Ok(())) => Some(s),
        _ => None,
    }
}

/// How long a read that stopped mid-line waits for the rest before the
/// answer is matched: a version cut at a segment boundary ("9." of "9.18")
/// would otherwise be taken.
const SETTLE: Duration = Duration::from_millis(30);

/// Reads until the answer decides the port, the peer closes, or `deadline`.
/// The answer is matched after each read that ends a line, or once the peer
/// has paused for [`SETTLE`].
async fn read_answer(
    stream: &mut dyn Io,
    deadline: Instant,
    check: &mut dyn FnMut(&[u8]) -> Option<Outcome>,
) -> Exchange {
    let mut data = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    let mut unchecked = false;
    loop {
        if data.len() >= MAX_RESPONSE {
            return Exchange::Ended(data, End::Timeout, true);
        }
        let room = (MAX_RESPONSE - data.len()).min(chunk.len());
        let by = if unchecked {
            deadline.min(Instant::now() + SETTLE)
        } else {
            deadline
        };
        match timeout_at(by, stream.read(&mut chunk[..room])).await {
            Err(_) if unchecked && by < deadline => {
                unchecked = false;
                if let Some(o) = check(&data) {
                    return decided(stream, data, o, deadline).await;
                }
            }
            Err(_) => return Exchange::Ended(data, End::Timeout, false),
            Ok(Ok(0)) => return Exchange::Ended(data, End::Closed, false),
            Ok(Ok(n)) => {
                data.extend_from_slice(&chunk[..n]);
                unchecked = !data.ends_with(b"\n");
                if !unchecked {
                    if let Some(o) = check(&data) {
                        return decided(stream, data, o, deadline).await;
                    }
                }
            }
            Ok(Err(_)) => return Exchange::Ended(data, End::Reset, false),
        }
    }
}

/// Whether a service name is HTTP's: `http`, `http-proxy`, `ssl/http`.
fn is_http(service: &str) -> bool {
    let base = service.strip_prefix("ssl/").unwrap_or(service);
    base == "http" || base.starts_with("http-")
}

/// How long an HTTP answer named before its page arrived may pause before
/// the page is taken as it is.
const HTTP_PAUSE: Duration = Duration::from_millis(500);

/// The answer decided the port. An HTTP answer still missing the page its
/// title comes from is read on, up to [`MAX_RESPONSE`] bytes, until the page
/// is complete, the peer closes or pauses for [`HTTP_PAUSE`], or `deadline`.
async fn decided(
    stream: &mut dyn Io,
    mut data: Vec<u8>,
    outcome: Outcome,
    deadline: Instant,
) -> Exchange {
    let http = matches!(&outcome, Outcome::Matched(m) if is_http(&m.service));
    if !http || !data.starts_with(b"HTTP/") {
        return Exchange::Decided(Box::new(outcome), data);
    }
    let mut chunk = vec![0u8; 16 * 1024];
    while data.len() < MAX_RESPONSE && !page_complete(&data) {
        let room = (MAX_RESPONSE - data.len()).min(chunk.len());
        let by = deadline.min(Instant::now() + HTTP_PAUSE);
        match timeout_at(by, stream.read(&mut chunk[..room])).await {
            Ok(Ok(n)) if n > 0 => data.extend_from_slice(&chunk[..n]),
            _ => break,
        }
    }
    Exchange::Decided(Box::new(outcome), data)
}

async fn udp_exchange(
    target: SocketAddr,
    payload: &[u8],
    deadline: Instant,
    check: &mut dyn FnMut(&[u8]) -> Option<Outcome>,
) -> Exchange {
    let bind: SocketAddr = match target {
        SocketAddr::V4(_) => (std::net::Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let Ok(sock) = UdpSocket::bind(bind).await else {
        return Exchange::Ended(Vec::new(), End::Reset, false);
    };
    if sock.connect(target).await.is_err() || sock.send(payload).await.is_err() {
        return Exchange::Ended(Vec::new(), End::Reset, false);
    }
    let mut data = Vec::new();
    let mut buf = vec![0u8; MAX_RESPONSE];
    loop {
        match timeout_at(deadline, sock.recv(&mut buf)).await {
            Err(_) => return Exchange::Ended(data, End::Timeout, false),
            // A port unreachable: the port is closed after all.
            Ok(Err(_)) => return Exchange::Ended(data, End::Reset, false),
            Ok(Ok(n)) => {
                let room = MAX_RESPONSE.saturating_sub(data.len());
                data.extend_from_slice(&buf[..n.min(room)]);
                if let Some(o) = check(&data) {
                    return Exchange::Decided(Box::new(o), data);
                }
                if data.len() >= MAX_RESPONSE {
                    return Exchange::Ended(data, End::Timeout, true);
                }
            }
        }
    }
}

/// Writes what detection found into the port's service: a port that
/// answered without a hard match also gets its fingerprint, and an HTTP
/// service the title of its page.
fn apply(p: &mut PortResult, found: Found, ctx: &Ctx) {
    let tunnel = found.tunnel.then_some(Tunnel::Ssl);
    let fingerprint = match found.outcome {
        Outcome::Unknown { .. } => found.answers.fingerprint(&FingerprintMeta {
            port: found.port,
            proto: found.proto,
            tls: found.tunnel,
            version: env!("CARGO_PKG_VERSION"),
            intensity: ctx.opts.intensity,
            unix_time: unix_now(),
            platform: &platform(),
        }),
        _ => None,
    };
    let mut service = match found.outcome {
        Outcome::Matched(m) => probed(m, 10),
        Outcome::Unknown { soft: Some(m) } => probed(m, 10),
        Outcome::Tcpwrapped => ServiceInfo::named("tcpwrapped", ServiceMethod::Probed, 8),
        Outcome::Tls => ServiceInfo::named("ssl", ServiceMethod::Probed, 10),
        Outcome::Unknown { soft: None } => {
            if tunnel.is_none() && fingerprint.is_none() {
                return;
            }
            // Nothing matched: the table's guess (reached by TLS, if so).
            p.service
                .clone()
                .unwrap_or_else(|| ServiceInfo::table("unknown"))
        }
    };
    if service.method == ServiceMethod::Probed {
        ctx.stats.identified.fetch_add(1, Ordering::Relaxed);
        if is_http(&service.name) {
            service.http_title = found.answers.title.map(|(_, t)| t.text());
        }
    }
    service.tunnel = tunnel;
    service.tls = found.tls;
    service.fingerprint = fingerprint;
    p.service = Some(service);
}

/// Seconds since the Unix epoch, for the fingerprint's date.
#[allow(clippy::disallowed_methods)] // the driver is where time enters
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The platform the scanner was built for, as a target triple
/// (`x86_64-unknown-linux-gnu`), for the fingerprint's `%P=`.
fn platform() -> String {
    let env = if cfg!(target_env = "gnu") {
        "-gnu"
    } else if cfg!(target_env = "musl") {
        "-musl"
    } else {
        ""
    };
    format!(
        "{}-unknown-{}{env}",
        std::env::consts::ARCH,
        std::env::consts::OS
    )
}

fn probed(m: ServiceMatch, conf: u8) -> ServiceInfo {
    let mut s = ServiceInfo::named(&m.service, ServiceMethod::Probed, conf);
    s.product = m.product;
    s.version = m.version;
    s.extrainfo = m.info;
    s.hostname = m.hostname;
    s.ostype = m.ostype;
    s.devicetype = m.devicetype;
    s.cpe = m.cpe;
    s
}

/// A sink in front of the real one: hosts with ports to probe go through
/// version detection first, the others straight through.
pub struct ServiceSink<'a> {
    inner: &'a mut dyn Sink,
    scanner: ServiceScanner,
    db: Arc<ProbeDb>,
}

impl std::fmt::Debug for ServiceSink<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceSink")
            .field("scanner", &self.scanner)
            .finish_non_exhaustive()
    }
}

impl<'a> ServiceSink<'a> {
    pub fn new(inner: &'a mut dyn Sink, opts: ServiceOptions) -> io::Result<ServiceSink<'a>> {
        let db = opts.db.clone();
        Ok(ServiceSink {
            inner,
            scanner: ServiceScanner::start(opts)?,
            db,
        })
    }

    fn drain(&mut self) -> io::Result<()> {
        for h in self.scanner.ready() {
            self.inner.host(&h)?;
        }
        Ok(())
    }

    /// Waits for every host still being probed and writes it; the counts of
    /// hosts and ports version detection saw.
    pub fn finish(mut self) -> io::Result<(u64, u64)> {
        self.write_rest()?;
        let ports = self.scanner.stats.ports.load(Ordering::Relaxed);
        Ok((self.scanner.hosts(), ports))
    }

    /// Writes every host still being probed, once done; every host gets
    /// written even when an earlier write fails, and the first error is kept.
    fn write_rest(&mut self) -> io::Result<()> {
        let mut first = Ok(());
        for h in self.scanner.finish() {
            if let Err(e) = self.inner.host(&h) {
                if first.is_ok() {
                    first = Err(e);
                }
            }
        }
        first
    }
}

impl Sink for ServiceSink<'_> {
    fn begin(&mut self, run: &portolan_model::RunInfo) -> io::Result<()> {
        self.inner.begin(run)
    }

    fn host(&mut self, host: &HostResult) -> io::Result<()> {
        if has_work(host, &self.db) {
            self.scanner.submit(host.clone());
        } else {
            self.inner.host(host)?;
        }
        self.drain()
    }

    fn end(&mut self, summary: &portolan_model::RunSummary) -> io::Result<()> {
        self.write_rest()?;
        self.inner.end(summary)
    }
}
