//! The `portolan` command: flags → validated plan → driver and sinks.
//! Wiring only; the logic lives in the library crates.

mod cli;
mod normalize;
mod plan;
mod scantype;

use anyhow::Result;
use clap::Parser;
use portolan_driver::paths::{Paths, Prefetch};
use portolan_driver::raw::RawNet;
use portolan_driver::{
    run_connect_scan, run_raw_scan, summary, LoopContext, ProgressLine, WallClock,
};
use portolan_engine::Scan;
use portolan_model::Protocol;
use portolan_output::Sink;
use portolan_targets::PortTable;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Descriptors kept back from the scan for output files, the epoll set, stdio.
const RESERVED_FDS: u64 = 64;

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let typed = raw.join(" ");
    let normalized = match normalize::normalize(raw) {
        Ok(v) => v,
        Err(e) => return usage_exit(&e.to_string()),
    };
    let cli = match cli::Cli::try_parse_from(normalized) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match run(&cli, &typed) {
        Ok(code) => code,
        Err(e) if e.downcast_ref::<plan::UsageError>().is_some() => usage_exit(&e.to_string()),
        Err(e) => {
            eprintln!("portolan: error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn usage_exit(msg: &str) -> ExitCode {
    eprintln!("portolan: {msg}");
    ExitCode::from(2)
}

fn run(cli: &cli::Cli, typed: &str) -> Result<ExitCode> {
    let clock = WallClock::start();
    let mut plan = plan::build(cli, typed, clock.start_epoch_secs())?;
    for w in &plan.warnings {
        eprintln!("Warning: {w}");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))?;
    let nofile = portolan_netio::limits::raise_nofile(1 << 20)?;
    let budget = nofile.saturating_sub(RESERVED_FDS).max(16) as usize;

    let hosts = plan
        .targets
        .exact_count(1 << 20)
        .unwrap_or_else(|| plan.targets.upper_bound());
    if hosts == 0 {
        eprintln!("WARNING: No targets were specified, so 0 hosts scanned.");
    }
    let expected_ports =
        hosts.saturating_mul((plan.config.tcp_ports.len() + plan.config.udp_ports.len()) as u64);
    let seed = plan.config.seed;
    let targets: Box<dyn Iterator<Item = portolan_targets::Target> + Send> =
        Box::new(plan.targets.clone().into_iter_seeded(seed));
    let mut raw_net = None;
    let paths = Paths::shared();
    let targets = match plan.config.raw {
        Some(raw) => {
            let last = raw.base_port + (portolan_engine::probe::TRY_PORTS - 1);
            raw_net = Some(RawNet::new(paths.clone(), raw.base_port..=last));
            Box::new(Prefetch::new(targets, paths.clone()))
        }
        None => targets,
    };
    let scan = Scan::new(plan.config.clone(), targets);
    let table = PortTable::builtin();
    let namer = |port: u16, proto: Protocol| table.name(port, proto).map(str::to_string);
    plan.sink.begin(&plan.run)?;
    let mut ctx = LoopContext {
        sink: &mut plan.sink,
        stop: &stop,
        namer: &namer,
        progress: plan.show_progress.then(|| ProgressLine::new(clock.now())),
        expected_ports,
        socket_budget: budget,
        workers: std::thread::available_parallelism().map_or(1, |n| n.get().min(8)),
    };
    let stats = match raw_net.as_mut() {
        Some(net) => run_raw_scan(scan, &mut ctx, &clock, net)?,
        None => run_connect_scan(scan, &mut ctx, &clock)?,
    };
    plan.sink.end(&summary(&stats, &clock))?;
    let unroutable = std::mem::take(
        &mut paths
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .unroutable,
    );
    for (addr, why) in unroutable {
        eprintln!("Warning: nothing was sent to {addr} ({why}); its ports read as unanswered.");
    }
    Ok(if stats.interrupted {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}
