//! The sans-IO core of the UDP resolver: which query to send next, to which server, when a
//! try has timed out, and whether a datagram answers an outstanding query. No sockets and
//! no clock: the caller passes `now` and moves the bytes (as [`crate::reverse_lookup_all`]
//! does over UDP).
//!
//! Guarantees, whatever the servers do:
//! - at most `max_in_flight` addresses have a query outstanding;
//! - an address finishes at most `tries × timeout` after its first query (each try either
//!   ends in an answer, an error answer, a send error, or its timeout);
//! - once every server has been silent for a whole window of tries in a row, addresses
//!   not yet sent are finished as timed out instead of queued behind the silence;
//! - with an overall deadline, every address has finished when it passes.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::config::{ConfigError, ResolverConfig};
use crate::message::{self, Name, Response, CLASS_IN, RCODE_NXDOMAIN, TYPE_PTR};
use crate::outcome::{Lookups, Outcome, ReverseResult, Stats};

/// A server is tried after the others once this many of its tries in a row went unanswered.
const SILENT_AFTER: u32 = 3;
/// Servers are judged unresponsive after at least this many unanswered tries in a row each
/// (and at least one window's worth).
const DEAD_AFTER_MIN: u32 = 16;
/// Finished addresses' query IDs kept to tell late answers from forged ones.
const RETIRED_IDS: usize = 4096;

/// A query to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where to send it.
    pub server: SocketAddr,
    /// Its DNS message ID (give it back to [`Resolver::handle_send_error`] if sending fails).
    pub id: u16,
    /// The whole DNS message.
    pub payload: Vec<u8>,
}

#[derive(Debug)]
struct Slot {
    addr: IpAddr,
    qname: Name,
    /// Tries started (sent, or refused by the operating system).
    tries: u32,
    /// Servers already tried in the current round over the server list.
    tried: u64,
    /// Every ID sent for this address; any of them may still be answered.
    ids: Vec<u16>,
    /// The try now waiting for its answer or its timeout.
    current: Option<u16>,
    outcome: Option<Outcome>,
}

#[derive(Debug)]
struct Server {
    addr: SocketAddr,
    /// Tries to this server that ended unanswered since its last answer.
    silent_streak: u32,
}

#[derive(Debug, Clone, Copy)]
struct Sent {
    slot: usize,
    server: usize,
}

/// Reverse lookups of a batch of addresses, as a state machine.
///
/// Drive it with: [`Resolver::handle_timeout`], then [`Resolver::poll_transmit`] until it
/// returns `None` (sending each query), then wait for a datagram or
/// [`Resolver::poll_timeout`], feeding datagrams to [`Resolver::handle_datagram`]; repeat
/// until [`Resolver::is_done`]. `now` must not go backwards.
#[derive(Debug)]
pub struct Resolver {
    servers: Vec<Server>,
    timeout: Duration,
    tries: u32,
    max_in_flight: usize,
    dead_after: u32,
    deadline: Option<Instant>,
    slots: Vec<Slot>,
    /// For each address given, its slot (duplicates share one).
    order: Vec<usize>,
    next_unstarted: usize,
    retry: VecDeque<usize>,
    in_flight: usize,
    unfinished: usize,
    ids: HashMap<u16, Sent>,
    retired: VecDeque<(u16, usize, usize)>,
    /// Try timeouts in the order they were set, which is also their time order.
    timers: VecDeque<(Instant, usize, u16)>,
    rng: u64,
    stats: Stats,
}

impl Resolver {
    /// A batch for `addrs`, starting at `now`. `seed` makes the query IDs unpredictable to
    /// anyone who cannot see the queries: pass fresh randomness.
    pub fn new(
        cfg: &ResolverConfig,
        addrs: &[IpAddr],
        now: Instant,
        seed: u64,
    ) -> Result<Self, ConfigError> {
        cfg.validate()?;
        let mut slot_of: HashMap<IpAddr, usize> = HashMap::with_capacity(addrs.len());
        let mut slots = Vec::new();
        let order = addrs
            .iter()
            .map(|&addr| {
                *slot_of.entry(addr).or_insert_with(|| {
                    slots.push(Slot::new(addr));
                    slots.len() - 1
                })
            })
            .collect();
        let window = u32::try_from(cfg.max_in_flight).unwrap_or(u32::MAX);
        Ok(Resolver {
            servers: cfg.servers.iter().map(|&addr| Server::new(addr)).collect(),
            timeout: cfg.timeout,
            tries: cfg.tries,
            max_in_flight: cfg.max_in_flight,
            dead_after: window.max(DEAD_AFTER_MIN),
            deadline: cfg.overall_deadline.and_then(|d| now.checked_add(d)),
            unfinished: slots.len(),
            slots,
            order,
            next_unstarted: 0,
            retry: VecDeque::new(),
            in_flight: 0,
            ids: HashMap::new(),
            retired: VecDeque::new(),
            timers: VecDeque::new(),
            rng: seed,
            stats: Stats::default(),
        })
    }

    /// True once every address has an outcome.
    pub fn is_done(&self) -> bool {
        self.unfinished == 0
    }

    /// Addresses with a query outstanding (or about to be resent).
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Counters so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The next query to send, if the window and the retry queue allow one now.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        if self.deadline_passed(now) {
            return None;
        }
        while let Some(slot) = self.retry.pop_front() {
            if self.slots[slot].outcome.is_none() {
                return Some(self.send_try(now, slot));
            }
        }
        if self.next_unstarted >= self.slots.len() || self.in_flight >= self.max_in_flight {
            return None;
        }
        if self.servers_dead() {
            self.give_up_unstarted();
            return None;
        }
        let slot = self.next_unstarted;
        self.next_unstarted += 1;
        self.in_flight += 1;
        Some(self.send_try(now, slot))
    }

    /// When [`Resolver::handle_timeout`] next has work, once `poll_transmit` is drained.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        if self.is_done() {
            return None;
        }
        while let Some(&(_, slot, id)) = self.timers.front() {
            if self.slots[slot].current == Some(id) {
                break;
            }
            self.timers.pop_front();
        }
        let next_try = self.timers.front().map(|&(at, _, _)| at);
        match (next_try, self.deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Ends the tries whose time is up, and everything at the overall deadline.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.deadline_passed(now) {
            return;
        }
        while let Some(&(at, slot, id)) = self.timers.front() {
            if at > now {
                break;
            }
            self.timers.pop_front();
            if self.slots[slot].current == Some(id) {
                self.expire(slot, id);
            }
        }
        if self.servers_dead() {
            self.give_up_unstarted();
        }
    }

    /// Sending the query with this ID failed: the try ends now.
    pub fn handle_send_error(&mut self, _now: Instant, id: u16) {
        let Some(sent) = self.ids.get(&id).copied() else {
            return;
        };
        if self.slots[sent.slot].current != Some(id) {
            return;
        }
        self.stats.send_errors += 1;
        self.servers[sent.server].silent_streak += 1;
        self.slots[sent.slot].current = None;
        self.next_try_or_finish(sent.slot, Outcome::SendFailed);
    }

    /// A datagram arrived from `from`. It is used only if it is a response to an outstanding
    /// query: same ID, sent by the server (address and port) that query went to, with the
    /// same question. Anything else is counted and dropped.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        self.stats.datagrams += 1;
        if self.deadline_passed(now) {
            return;
        }
        let resp = match message::parse_response(bytes) {
            Ok(resp) => resp,
            Err(_) => {
                self.stats.malformed += 1;
                return;
            }
        };
        match self.ids.get(&resp.id).copied() {
            Some(sent) if self.matches(sent, from, &resp) => {
                self.stats.accepted += 1;
                self.servers[sent.server].silent_streak = 0;
                self.apply(sent.slot, resp);
            }
            _ if self.is_late(from, &resp) => self.stats.late += 1,
            _ => self.stats.forged += 1,
        }
    }

    /// Every address with its outcome, in the order given.
    pub fn finish(self) -> Lookups {
        let results = self
            .order
            .iter()
            .map(|&slot| ReverseResult {
                addr: self.slots[slot].addr,
                outcome: self.slots[slot]
                    .outcome
                    .clone()
                    .unwrap_or(Outcome::TimedOut),
            })
            .collect();
        Lookups {
            results,
            stats: self.stats,
        }
    }

    fn matches(&self, sent: Sent, from: SocketAddr, resp: &Response) -> bool {
        let server = self.servers[sent.server].addr;
        let question_ok = match resp.questions.as_slice() {
            [q] => {
                q.qtype == TYPE_PTR
                    && q.qclass == CLASS_IN
                    && q.name.eq_ignore_case(&self.slots[sent.slot].qname)
            }
            _ => false,
        };
        from.ip() == server.ip() && from.port() == server.port() && resp.opcode == 0 && question_ok
    }

    /// A valid answer to a try of an address that has already finished.
    fn is_late(&self, from: SocketAddr, resp: &Response) -> bool {
        self.retired.iter().any(|&(id, slot, server)| {
            id == resp.id && self.matches(Sent { slot, server }, from, resp)
        })
    }

    fn apply(&mut self, slot: usize, resp: Response) {
        match resp.rcode {
            0 => match resp.ptr_target(&self.slots[slot].qname) {
                Some(name) => self.finish_slot(slot, Outcome::Name(name.to_presentation())),
                None if resp.truncated => self.try_failed(slot, resp.id, Outcome::ServerFailure(0)),
                None => self.finish_slot(slot, Outcome::NoName),
            },
            RCODE_NXDOMAIN => self.finish_slot(slot, Outcome::NxDomain),
            rcode => self.try_failed(slot, resp.id, Outcome::ServerFailure(rcode)),
        }
    }

    /// An error answer ends the try it answers; an error answer to an earlier try leaves
    /// the current one waiting.
    fn try_failed(&mut self, slot: usize, id: u16, outcome: Outcome) {
        if self.slots[slot].current == Some(id) {
            self.slots[slot].current = None;
            self.next_try_or_finish(slot, outcome);
        }
    }

    fn expire(&mut self, slot: usize, id: u16) {
        if let Some(sent) = self.ids.get(&id) {
            self.servers[sent.server].silent_streak += 1;
        }
        self.stats.timeouts += 1;
        self.slots[slot].current = None;
        self.next_try_or_finish(slot, Outcome::TimedOut);
    }

    fn next_try_or_finish(&mut self, slot: usize, outcome: Outcome) {
        if self.slots[slot].tries < self.tries {
            self.retry.push_back(slot);
        } else {
            self.finish_slot(slot, outcome);
        }
    }

    fn send_try(&mut self, now: Instant, slot: usize) -> Transmit {
        let server = self.choose_server(slot);
        let id = self.fresh_id();
        let at = self.try_deadline(now);
        let s = &mut self.slots[slot];
        s.tries += 1;
        s.tried |= 1 << server;
        s.ids.push(id);
        s.current = Some(id);
        self.ids.insert(id, Sent { slot, server });
        self.timers.push_back((at, slot, id));
        self.stats.queries_sent += 1;
        let mut payload = Vec::with_capacity(96);
        message::encode_ptr_query(id, &self.slots[slot].qname, &mut payload);
        Transmit {
            server: self.servers[server].addr,
            id,
            payload,
        }
    }

    /// Never earlier than a timer already set, so the timer queue stays in time order.
    fn try_deadline(&self, now: Instant) -> Instant {
        let at = now.checked_add(self.timeout).unwrap_or(now);
        match self.timers.back() {
            Some(&(last, _, _)) => at.max(last),
            None => at,
        }
    }

    /// Round-robin over the servers for one address: a server not yet tried in this round,
    /// servers that have answered lately before silent ones, then in configuration order.
    fn choose_server(&mut self, slot: usize) -> usize {
        let n = self.servers.len();
        let all = if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
        let s = &mut self.slots[slot];
        if s.tried & all == all {
            s.tried = 0;
        }
        let tried = s.tried;
        (0..n)
            .filter(|&i| tried & (1 << i) == 0)
            .min_by_key(|&i| (self.servers[i].silent_streak >= SILENT_AFTER, i))
            .unwrap_or(0)
    }

    fn fresh_id(&mut self) -> u16 {
        for _ in 0..32 {
            let id = (self.next_random() >> 48) as u16;
            if !self.ids.contains_key(&id) {
                return id;
            }
        }
        // Dense ID space: scan from a random point (a free ID exists, as at most
        // MAX_IN_FLIGHT × MAX_TRIES < 65536 IDs are live).
        let start = (self.next_random() >> 48) as u16;
        (0..=u16::MAX)
            .map(|i| start.wrapping_add(i))
            .find(|id| !self.ids.contains_key(id))
            .unwrap_or(start)
    }

    /// SplitMix64.
    fn next_random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn servers_dead(&self) -> bool {
        self.servers
            .iter()
            .all(|s| s.silent_streak >= self.dead_after)
    }

    fn finish_slot(&mut self, slot: usize, outcome: Outcome) {
        let s = &mut self.slots[slot];
        if s.outcome.is_some() {
            return;
        }
        s.outcome = Some(outcome);
        s.current = None;
        if s.tries > 0 {
            self.in_flight -= 1;
        }
        self.unfinished -= 1;
        for id in std::mem::take(&mut s.ids) {
            if let Some(sent) = self.ids.remove(&id) {
                self.retired.push_back((id, sent.slot, sent.server));
            }
        }
        while self.retired.len() > RETIRED_IDS {
            self.retired.pop_front();
        }
    }

    fn give_up_unstarted(&mut self) {
        for slot in self.next_unstarted..self.slots.len() {
            self.finish_slot(slot, Outcome::TimedOut);
        }
        self.next_unstarted = self.slots.len();
    }

    fn deadline_passed(&mut self, now: Instant) -> bool {
        if self.deadline.is_some_and(|d| now >= d) {
            if !self.is_done() {
                for slot in 0..self.slots.len() {
                    self.finish_slot(slot, Outcome::TimedOut);
                }
                self.next_unstarted = self.slots.len();
                self.retry.clear();
                self.timers.clear();
            }
            return true;
        }
        false
    }
}

impl Slot {
    fn new(addr: IpAddr) -> Self {
        Slot {
            addr,
            qname: Name::reverse(addr),
            tries: 0,
            tried: 0,
            ids: Vec::new(),
            current: None,
            outcome: None,
        }
    }
}

impl Server {
    fn new(addr: SocketAddr) -> Self {
        Server {
            addr,
            silent_streak: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::disallowed_methods)]

    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const S1: &str = "127.0.0.1:5301";
    const S2: &str = "127.0.0.1:5302";
    const MS: Duration = Duration::from_millis(1);

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn v4(i: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(0xc612_0000 + i))
    }

    fn cfg(servers: &[&str], tries: u32, window: usize) -> ResolverConfig {
        let mut cfg = ResolverConfig::new(servers.iter().map(|s| sa(s)).collect());
        cfg.timeout = Duration::from_millis(100);
        cfg.tries = tries;
        cfg.max_in_flight = window;
        cfg
    }

    /// Reads the ID and question name back from a query we sent.
    fn query_of(t: &Transmit) -> (u16, Vec<u8>) {
        let id = u16::from_be_bytes([t.payload[0], t.payload[1]]);
        (id, t.payload[12..t.payload.len() - 4].to_vec())
    }

    /// A response to `t`: rcode, and optionally one PTR answer (owner compressed).
    fn answer(t: &Transmit, id: u16, rcode: u8, ptr: Option<&str>) -> Vec<u8> {
        let (_, qname) = query_of(t);
        let mut msg = Vec::new();
        let flags = 0x8180u16 | u16::from(rcode);
        for word in [id, flags, 1, u16::from(ptr.is_some()), 0, 0] {
            msg.extend_from_slice(&word.to_be_bytes());
        }
        msg.extend_from_slice(&qname);
        msg.extend_from_slice(&[0, 12, 0, 1]);
        if let Some(name) = ptr {
            let mut rdata = Vec::new();
            for label in name.split('.') {
                rdata.push(label.len() as u8);
                rdata.extend_from_slice(label.as_bytes());
            }
            rdata.push(0);
            msg.extend_from_slice(&[0xc0, 12, 0, 12, 0, 1, 0, 0, 0, 60]);
            msg.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            msg.extend_from_slice(&rdata);
        }
        msg
    }

    fn drain(r: &mut Resolver, now: Instant) -> Vec<Transmit> {
        std::iter::from_fn(|| r.poll_transmit(now)).collect()
    }

    /// Runs the engine with every query unanswered until it is done; returns the virtual
    /// time taken and every query sent.
    fn run_silent(r: &mut Resolver, t0: Instant) -> (Duration, Vec<Transmit>) {
        let mut sent = Vec::new();
        let mut now = t0;
        for _ in 0..100_000 {
            r.handle_timeout(now);
            sent.extend(drain(r, now));
            match r.poll_timeout() {
                Some(at) => now = at.max(now),
                None => break,
            }
        }
        assert!(r.is_done());
        (now - t0, sent)
    }

    #[test]
    fn answers_give_names_in_input_order_with_duplicates() {
        let t0 = Instant::now();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        let addrs = [v4(1), v6, v4(2), v4(1), v4(3)];
        let mut r = Resolver::new(&cfg(&[S1], 2, 10), &addrs, t0, 1).unwrap();
        let sent = drain(&mut r, t0);
        assert_eq!(sent.len(), 4, "one query per distinct address");
        let (id, qname) = query_of(&sent[1]);
        assert_eq!(qname, Name::reverse(v6).as_wire());
        r.handle_datagram(
            t0,
            sa(S1),
            &answer(&sent[0], query_of(&sent[0]).0, 0, Some("one.test")),
        );
        r.handle_datagram(t0, sa(S1), &answer(&sent[1], id, 0, Some("six.test")));
        r.handle_datagram(t0, sa(S1), &answer(&sent[2], query_of(&sent[2]).0, 3, None));
        r.handle_datagram(t0, sa(S1), &answer(&sent[3], query_of(&sent[3]).0, 0, None));
        assert!(r.is_done());
        let got = r.finish();
        let outcomes: Vec<_> = got
            .results
            .iter()
            .map(|r| (r.addr, r.outcome.clone()))
            .collect();
        assert_eq!(
            outcomes,
            vec![
                (v4(1), Outcome::Name("one.test".into())),
                (v6, Outcome::Name("six.test".into())),
                (v4(2), Outcome::NxDomain),
                (v4(1), Outcome::Name("one.test".into())),
                (v4(3), Outcome::NoName),
            ]
        );
        assert_eq!(got.stats.accepted, 4);
        assert_eq!(got.stats.queries_sent, 4);
    }

    #[test]
    fn window_bounds_outstanding_queries() {
        let t0 = Instant::now();
        let addrs: Vec<IpAddr> = (0..100).map(v4).collect();
        let mut r = Resolver::new(&cfg(&[S1], 1, 10), &addrs, t0, 2).unwrap();
        let mut outstanding = drain(&mut r, t0);
        let mut total = outstanding.len();
        assert_eq!(outstanding.len(), 10);
        while let Some(t) = outstanding.pop() {
            let (id, _) = query_of(&t);
            r.handle_datagram(t0, sa(S1), &answer(&t, id, 3, None));
            let more = drain(&mut r, t0);
            total += more.len();
            outstanding.extend(more);
            assert!(outstanding.len() <= 10);
            assert_eq!(r.in_flight(), outstanding.len());
        }
        assert_eq!(total, 100);
        assert!(r.is_done());
    }

    #[test]
    fn silent_servers_take_turns_and_time_out_after_all_tries() {
        let t0 = Instant::now();
        let mut r = Resolver::new(&cfg(&[S1, S2], 3, 10), &[v4(9)], t0, 3).unwrap();
        let (took, sent) = run_silent(&mut r, t0);
        let servers: Vec<SocketAddr> = sent.iter().map(|t| t.server).collect();
        assert_eq!(servers, vec![sa(S1), sa(S2), sa(S1)]);
        assert_eq!(took, Duration::from_millis(300));
        let got = r.finish();
        assert_eq!(got.results[0].outcome, Outcome::TimedOut);
        assert_eq!(got.stats.timeouts, 3);
    }

    #[test]
    fn dead_server_gives_up_on_unsent_addresses() {
        let t0 = Instant::now();
        let addrs: Vec<IpAddr> = (0..1000).map(v4).collect();
        let mut r = Resolver::new(&cfg(&[S1], 2, 20), &addrs, t0, 4).unwrap();
        let (took, sent) = run_silent(&mut r, t0);
        // One window of first tries and their second tries, not 1000 / 20 × 200 ms.
        assert_eq!(took, Duration::from_millis(200));
        assert_eq!(sent.len(), 40);
        let got = r.finish();
        assert!(got.results.iter().all(|r| r.outcome == Outcome::TimedOut));
    }

    #[test]
    fn silent_first_server_is_passed_over_for_new_addresses() {
        let t0 = Instant::now();
        let addrs: Vec<IpAddr> = (0..10).map(v4).collect();
        let mut r = Resolver::new(&cfg(&[S1, S2], 2, 4), &addrs, t0, 5).unwrap();
        let mut first_server: HashMap<Vec<u8>, SocketAddr> = HashMap::new();
        let mut now = t0;
        for _ in 0..1000 {
            r.handle_timeout(now);
            loop {
                let sent = drain(&mut r, now);
                if sent.is_empty() {
                    break;
                }
                for t in sent {
                    let (id, qname) = query_of(&t);
                    first_server.entry(qname).or_insert(t.server);
                    if t.server == sa(S2) {
                        r.handle_datagram(now, t.server, &answer(&t, id, 0, Some("b.test")));
                    }
                }
            }
            match r.poll_timeout() {
                Some(at) => now = at,
                None => break,
            }
        }
        let got = r.finish();
        assert!(got
            .results
            .iter()
            .all(|r| r.outcome.name() == Some("b.test")));
        // Only the first window went to S1 first; after its silences S1 goes last.
        let to_s1 = first_server.values().filter(|&&s| s == sa(S1)).count();
        assert_eq!(to_s1, 4);
        assert_eq!(got.stats.queries_sent, 14);
        assert_eq!(now - t0, Duration::from_millis(100));
    }

    #[test]
    fn forged_answers_are_counted_and_ignored() {
        let t0 = Instant::now();
        let mut r = Resolver::new(&cfg(&[S1], 1, 10), &[v4(1), v4(2)], t0, 6).unwrap();
        let sent = drain(&mut r, t0);
        let (id0, _) = query_of(&sent[0]);
        let (id1, _) = query_of(&sent[1]);
        let evil = Some("evil.test");
        r.handle_datagram(t0, sa(S1), &answer(&sent[0], id0 ^ 0x5a5a, 0, evil)); // wrong ID
        r.handle_datagram(t0, sa("127.0.0.1:5399"), &answer(&sent[0], id0, 0, evil)); // port
        r.handle_datagram(t0, sa("127.0.0.2:5301"), &answer(&sent[0], id0, 0, evil)); // address
        r.handle_datagram(t0, sa(S1), &answer(&sent[1], id0, 0, evil)); // other question
        r.handle_datagram(t0, sa(S1), &[0u8; 5]);
        let mut query = sent[0].payload.clone();
        r.handle_datagram(t0, sa(S1), &query); // a query, not an answer
        query[2] |= 0x80;
        query[2] |= 0x08; // opcode 1
        r.handle_datagram(t0, sa(S1), &query);
        assert_eq!(r.stats().forged, 5);
        assert_eq!(r.stats().malformed, 2);
        assert_eq!(r.stats().accepted, 0);
        r.handle_datagram(t0, sa(S1), &answer(&sent[0], id0, 0, Some("good.test")));
        r.handle_datagram(t0, sa(S1), &answer(&sent[1], id1, 3, None));
        r.handle_datagram(t0, sa(S1), &answer(&sent[1], id1, 3, None)); // duplicate
        let got = r.finish();
        assert_eq!(got.results[0].outcome, Outcome::Name("good.test".into()));
        assert_eq!(got.results[1].outcome, Outcome::NxDomain);
        assert_eq!(got.stats.late, 1);
        assert_eq!(got.stats.forged, 5);
    }

    #[test]
    fn error_answers_move_to_the_next_server_at_once() {
        let t0 = Instant::now();
        let mut r = Resolver::new(&cfg(&[S1, S2], 3, 10), &[v4(1)], t0, 7).unwrap();
        let mut servers = Vec::new();
        for _ in 0..3 {
            let sent = drain(&mut r, t0);
            assert_eq!(sent.len(), 1);
            servers.push(sent[0].server);
            let (id, _) = query_of(&sent[0]);
            r.handle_datagram(t0, sent[0].server, &answer(&sent[0], id, 2, None));
        }
        assert!(r.is_done());
        assert_eq!(servers, vec![sa(S1), sa(S2), sa(S1)]);
        assert_eq!(r.finish().results[0].outcome, Outcome::ServerFailure(2));
    }

    #[test]
    fn truncated_answer_without_record_is_retried() {
        let t0 = Instant::now();
        let mut r = Resolver::new(&cfg(&[S1], 2, 10), &[v4(1)], t0, 8).unwrap();
        let first = drain(&mut r, t0);
        let mut tc = answer(&first[0], query_of(&first[0]).0, 0, None);
        tc[2] |= 0x02;
        r.handle_datagram(t0, sa(S1), &tc);
        let second = drain(&mut r, t0);
        assert_eq!(second.len(), 1);
        let (id, _) = query_of(&second[0]);
        r.handle_datagram(t0, sa(S1), &answer(&second[0], id, 0, Some("full.test")));
        assert_eq!(r.finish().results[0].outcome.name(), Some("full.test"));
    }

    #[test]
    fn answer_to_an_earlier_try_still_counts() {
        let t0 = Instant::now();
        let mut r = Resolver::new(&cfg(&[S1, S2], 2, 10), &[v4(1)], t0, 9).unwrap();
        let first = drain(&mut r, t0);
        let later = t0 + 100 * MS;
        r.handle_timeout(later);
        let second = drain(&mut r, later);
        assert_eq!(second[0].server, sa(S2));
        let (id, _) = query_of(&first[0]);
        r.handle_datagram(
            later + MS,
            sa(S1),
            &answer(&first[0], id, 0, Some("slow.test")),
        );
        assert!(r.is_done());
        assert_eq!(r.finish().results[0].outcome.name(), Some("slow.test"));
    }

    #[test]
    fn send_errors_end_the_try_at_once() {
        let t0 = Instant::now();
        let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
        let mut r = Resolver::new(&cfg(&[S1, S2], 2, 10), &[v6], t0, 10).unwrap();
        for _ in 0..2 {
            let sent = drain(&mut r, t0);
            assert_eq!(sent.len(), 1);
            r.handle_send_error(t0, sent[0].id);
        }
        assert!(r.is_done());
        let got = r.finish();
        assert_eq!(got.results[0].outcome, Outcome::SendFailed);
        assert_eq!(got.stats.send_errors, 2);
    }

    #[test]
    fn overall_deadline_ends_everything() {
        let t0 = Instant::now();
        let mut c = cfg(&[S1], 3, 5);
        c.timeout = Duration::from_secs(1);
        c.overall_deadline = Some(Duration::from_millis(250));
        let addrs: Vec<IpAddr> = (0..50).map(v4).collect();
        let mut r = Resolver::new(&c, &addrs, t0, 11).unwrap();
        let (took, sent) = run_silent(&mut r, t0);
        assert_eq!(took, Duration::from_millis(250));
        assert_eq!(sent.len(), 5);
        assert!(r
            .finish()
            .results
            .iter()
            .all(|r| r.outcome == Outcome::TimedOut));
    }

    #[test]
    fn query_ids_differ_within_a_batch() {
        let t0 = Instant::now();
        let addrs: Vec<IpAddr> = (0..2000).map(v4).collect();
        let mut r = Resolver::new(&cfg(&[S1], 1, 2000), &addrs, t0, 12).unwrap();
        let mut ids: Vec<u16> = drain(&mut r, t0).iter().map(|t| t.id).collect();
        assert_eq!(ids.len(), 2000);
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 2000);
    }

    proptest::proptest! {
        /// Whatever arrives from the server, with an outstanding ID or not, nothing panics
        /// and nothing but a real answer is accepted.
        #[test]
        fn arbitrary_datagrams_never_panic(
            body in proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..300),
            use_id in proptest::arbitrary::any::<bool>(),
        ) {
            let t0 = Instant::now();
            let mut r = Resolver::new(&cfg(&[S1], 1, 10), &[v4(1)], t0, 13).unwrap();
            let sent = drain(&mut r, t0);
            let mut bytes = body;
            if use_id && bytes.len() >= 2 {
                bytes[..2].copy_from_slice(&sent[0].id.to_be_bytes());
            }
            r.handle_datagram(t0, sa(S1), &bytes);
            let stats = r.stats();
            proptest::prop_assert_eq!(stats.forged + stats.malformed + stats.accepted, 1);
            if stats.accepted == 1 {
                let qname = Name::reverse(v4(1));
                proptest::prop_assert_eq!(&bytes[12..12 + 25], qname.as_wire());
            }
        }
    }

    #[test]
    fn bad_config_is_refused() {
        let t0 = Instant::now();
        let err = Resolver::new(&cfg(&[], 1, 1), &[v4(1)], t0, 0).unwrap_err();
        assert!(matches!(err, ConfigError::NoServers));
    }
}
