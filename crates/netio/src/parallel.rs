//! Connection attempts spread over worker threads.
//!
//! Opening, connecting and closing a socket is kernel work that one thread
//! cannot overlap; on a machine with several cores each worker thread owns
//! its own [`Connector`] (its own epoll set) and the caller talks to them
//! through channels. The caller's interface is the same as a `Connector`'s,
//! except that every result, immediate or not, arrives through [`wait`].
//!
//! [`wait`]: ParallelConnector::wait

use crate::connect::{ConnectResult, Connector, Started};
use mio::{Token, Waker};
use std::io;
use std::net::SocketAddr;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

const WAKE: Token = Token(usize::MAX);

enum Command {
    Start(u64, SocketAddr),
    Abort(u64),
}

struct Worker {
    commands: Sender<Command>,
    waker: Arc<Waker>,
    pending_wake: bool,
    handle: Option<JoinHandle<()>>,
}

/// Workers, each owning the attempts whose id maps to it.
pub struct ParallelConnector {
    workers: Vec<Worker>,
    results: Receiver<(u64, ConnectResult)>,
}

impl std::fmt::Debug for ParallelConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParallelConnector")
            .field("workers", &self.workers.len())
            .finish()
    }
}

impl ParallelConnector {
    /// Starts `n` worker threads (at least one).
    pub fn new(n: usize) -> io::Result<ParallelConnector> {
        let (tx, results) = mpsc::channel();
        let mut workers = Vec::new();
        for i in 0..n.max(1) {
            workers.push(spawn_worker(i, tx.clone())?);
        }
        Ok(ParallelConnector { workers, results })
    }

    fn worker(&mut self, id: u64) -> &mut Worker {
        let n = self.workers.len() as u64;
        &mut self.workers[(id % n) as usize]
    }

    /// Queues attempt `id`; its result comes back through `wait`.
    pub fn start(&mut self, id: u64, addr: SocketAddr) {
        let w = self.worker(id);
        if w.commands.send(Command::Start(id, addr)).is_ok() {
            w.pending_wake = true;
        }
    }

    pub fn abort(&mut self, id: u64) {
        let w = self.worker(id);
        if w.commands.send(Command::Abort(id)).is_ok() {
            w.pending_wake = true;
        }
    }

    /// Wakes the workers that were given commands since the last call.
    pub fn flush(&mut self) {
        for w in &mut self.workers {
            if std::mem::take(&mut w.pending_wake) {
                let _ = w.waker.wake();
            }
        }
    }

    /// Waits up to `timeout` for results and appends every one available.
    pub fn wait(
        &mut self,
        timeout: Duration,
        out: &mut Vec<(u64, ConnectResult)>,
    ) -> io::Result<()> {
        self.flush();
        match self.results.recv_timeout(timeout) {
            Ok(r) => out.push(r),
            Err(RecvTimeoutError::Timeout) => return Ok(()),
            Err(RecvTimeoutError::Disconnected) => {
                return Err(io::Error::other("connection worker threads stopped"))
            }
        }
        out.extend(self.results.try_iter());
        Ok(())
    }
}

impl Drop for ParallelConnector {
    fn drop(&mut self) {
        for w in &mut self.workers {
            // Dropping the sender ends the worker's loop once it is woken.
            let (dead, _) = mpsc::channel();
            w.commands = dead;
            let _ = w.waker.wake();
        }
        for w in &mut self.workers {
            if let Some(h) = w.handle.take() {
                let _ = h.join();
            }
        }
    }
}

fn spawn_worker(i: usize, results: Sender<(u64, ConnectResult)>) -> io::Result<Worker> {
    let conn = Connector::new()?;
    let waker = Arc::new(conn.waker(WAKE)?);
    let (commands, rx) = mpsc::channel();
    let handle = std::thread::Builder::new()
        .name(format!("connect-{i}"))
        .spawn(move || worker_loop(conn, rx, results))?;
    Ok(Worker {
        commands,
        waker,
        pending_wake: false,
        handle: Some(handle),
    })
}

fn worker_loop(mut conn: Connector, rx: Receiver<Command>, results: Sender<(u64, ConnectResult)>) {
    let mut out = Vec::new();
    loop {
        loop {
            match rx.try_recv() {
                Ok(Command::Start(id, addr)) => {
                    if let Started::Done(r) = conn.start(id, addr) {
                        out.push((id, r));
                    }
                }
                Ok(Command::Abort(id)) => conn.abort(id),
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => return,
            }
        }
        for r in out.drain(..) {
            if results.send(r).is_err() {
                return;
            }
        }
        if conn
            .wait(Some(Duration::from_millis(100)), &mut out)
            .is_err()
        {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn results_come_back_from_every_worker() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let open = l.local_addr().unwrap();
        let closed = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let mut p = ParallelConnector::new(2).unwrap();
        for id in 0..20u64 {
            p.start(id, if id % 2 == 0 { open } else { closed });
        }
        let mut out = Vec::new();
        for _ in 0..100 {
            p.wait(Duration::from_millis(50), &mut out).unwrap();
            if out.len() == 20 {
                break;
            }
        }
        out.sort_by_key(|(id, _)| *id);
        assert_eq!(out.len(), 20);
        for (id, r) in out {
            let want = if id % 2 == 0 {
                ConnectResult::Open
            } else {
                ConnectResult::Refused
            };
            assert_eq!(r, want, "attempt {id}");
        }
    }
}
