//! Network namespaces for netio's integration tests.
//!
//! A [`Lab`] is a set of namespaces named `pnbrn<pid>-<n><node>`, created
//! with `ip netns add` and deleted (with their veths) when the lab is
//! dropped, also while a failing test unwinds. Namespaces of test processes
//! that died without dropping theirs are removed by the next lab. Code runs
//! inside a namespace on a fresh thread that has joined it with setns(2), so
//! every socket that thread opens lives there; the test's own thread never
//! leaves the root namespace. Only 198.18.0.0/15 and 2001:db8::/32 are used.

#![allow(dead_code)] // each test file uses a different part

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Once;

const PREFIX: &str = "pnbrn";

/// Whether the namespace tests can run: root, and iproute2 installed.
/// Prints a loud SKIPPED line when they cannot.
pub fn can_run(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let have_ip = Command::new("ip").arg("-V").output().is_ok();
    if !root || !have_ip {
        eprintln!("SKIPPED: {test} needs root and iproute2 (network namespaces)");
    }
    root && have_ip
}

/// Runs `ip args...`; panics with its stderr if it fails.
pub fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A set of namespaces deleted on drop.
#[derive(Debug)]
pub struct Lab {
    id: String,
    names: Vec<String>,
}

impl Lab {
    pub fn new() -> Lab {
        static GC: Once = Once::new();
        GC.call_once(remove_stale);
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        Lab {
            id: format!("{PREFIX}{}-{n}", std::process::id()),
            names: Vec::new(),
        }
    }

    /// Creates namespace `node` (loopback up, DAD and router solicitations
    /// off so addresses work at once and the links stay quiet) and returns
    /// its full name.
    pub fn add(&mut self, node: &str) -> String {
        let name = format!("{}{node}", self.id);
        ip(&["netns", "add", &name]);
        self.names.push(name.clone());
        sysctl(&name, "net.ipv6.conf.all.accept_dad", "0");
        sysctl(&name, "net.ipv6.conf.default.accept_dad", "0");
        sysctl(&name, "net.ipv6.conf.default.router_solicitations", "0");
        sysctl(&name, "net.ipv6.conf.default.accept_ra", "0");
        ip(&["-n", &name, "link", "set", "lo", "up"]);
        name
    }

    /// The full name of namespace `node`.
    pub fn name(&self, node: &str) -> String {
        format!("{}{node}", self.id)
    }

    /// `ip -n <node> args...`
    pub fn ip(&self, node: &str, args: &[&str]) {
        let name = self.name(node);
        let mut all = vec!["-n", name.as_str()];
        all.extend_from_slice(args);
        ip(&all);
    }

    /// A veth pair: `a_if` (MAC `a_mac`) in `a`, `b_if` (MAC `b_mac`) in
    /// `b`, both up.
    pub fn veth(&self, a: &str, a_if: &str, a_mac: &str, b: &str, b_if: &str, b_mac: &str) {
        let b_ns = self.name(b);
        self.ip(
            a,
            &[
                "link", "add", a_if, "address", a_mac, "type", "veth", "peer", "name", b_if,
                "address", b_mac, "netns", &b_ns,
            ],
        );
        self.ip(a, &["link", "set", a_if, "up"]);
        self.ip(b, &["link", "set", b_if, "up"]);
    }

    /// Adds `addr` (with prefix length) to `dev` in `node`; IPv6 ones with
    /// `nodad`.
    pub fn addr(&self, node: &str, dev: &str, addr: &str) {
        if addr.contains(':') {
            self.ip(node, &["addr", "add", addr, "dev", dev, "nodad"]);
        } else {
            self.ip(node, &["addr", "add", addr, "dev", dev]);
        }
    }

    /// Runs `f` on a fresh thread inside namespace `node` and returns its
    /// result; a panic in `f` is re-raised here (the lab still drops).
    pub fn run<T, F>(&self, node: &str, f: F) -> T
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let path = format!("/var/run/netns/{}", self.name(node));
        let thread = std::thread::spawn(move || {
            enter(&path);
            f()
        });
        match thread.join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for name in self.names.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", name]).output();
        }
    }
}

/// Moves the calling thread into the network namespace at `path`.
fn enter(path: &str) {
    let file = File::open(path).expect("open the namespace");
    // SAFETY: the descriptor is valid for the call; setns only changes the
    // calling thread's network namespace.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
}

fn sysctl(ns: &str, key: &str, value: &str) {
    let setting = format!("{key}={value}");
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "sysctl", "-qw", &setting])
        .output()
        .expect("run sysctl");
    assert!(out.status.success(), "sysctl {setting} in {ns}");
}

/// Deletes `pnbrn<pid>-...` namespaces whose process is gone.
fn remove_stale() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let Some((pid, _)) = rest.split_once('-') else {
            continue;
        };
        let alive = std::path::Path::new(&format!("/proc/{pid}")).exists();
        if pid.parse::<u32>().is_ok() && !alive {
            let _ = Command::new("ip").args(["netns", "del", name]).output();
        }
    }
}
