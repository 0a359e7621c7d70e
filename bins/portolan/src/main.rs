//! The `portolan` command: flags → validated plan → driver and sinks.
//! Wiring only; the logic lives in the library crates.

mod cli;
mod flow;
mod normalize;
mod plan;
mod resume;
mod scantype;

use anyhow::Result;
use clap::Parser;
use portolan_driver::paths::{Paths, SharedPaths};
use portolan_driver::{summary, WallClock};
use portolan_output::Sink;
use portolan_targets::{ResumeIndex, Tracked};
use resume::Resumed;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Descriptors kept back from the scan for output files, the epoll set, stdio.
const RESERVED_FDS: u64 = 64;

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let normalized = match normalize::normalize(raw.clone()) {
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
    let outcome = match &cli.resume {
        Some(path) => {
            resume::start(&raw, path).and_then(|(c, r)| run(&c, &r.file.argv.clone(), Some(r)))
        }
        None => run(&cli, &raw, None),
    };
    match outcome {
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

/// Runs the scan `argv` asks for (parsed as `cli`), or continues it.
fn run(cli: &cli::Cli, argv: &[String], resumed: Option<Resumed>) -> Result<ExitCode> {
    let clock = WallClock::start();
    let outputs = match resumed {
        Some(_) => plan::Outputs::Continue,
        None => plan::Outputs::Create,
    };
    let mut plan = plan::build(cli, &argv.join(" "), clock.start_epoch_secs(), outputs)?;
    if let Some(r) = &resumed {
        resume::apply(&mut plan, r)?;
    }
    for w in &plan.warnings {
        eprintln!("Warning: {w}");
    }
    let nofile = portolan_netio::limits::raise_nofile(1 << 20)?;
    let budget = nofile.saturating_sub(RESERVED_FDS).max(16) as usize;
    // Output files are open and limits raised: from here on only a raw scan
    // needs a privilege (CAP_NET_RAW, to open packet sockets and resolve
    // next hops as it goes). Before any thread exists, so all inherit it.
    let raw_discovery = matches!(plan.discovery, plan::Discover::Probe { raw: true, .. });
    let keep: &[u32] = if plan.config.raw.is_some() || raw_discovery {
        &[portolan_netio::privs::CAP_NET_RAW]
    } else {
        &[]
    };
    if let Err(e) = portolan_netio::privs::keep_only(keep) {
        eprintln!("Warning: could not drop privileges: {e}");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))?;

    let hosts = host_count(&plan, resumed.as_ref());
    let start = resumed.as_ref().map(|r| r.file.point());
    let index = Arc::new(Mutex::new(ResumeIndex::new(start.as_ref())));
    let order = resume::target_order(&plan, start.as_ref());
    let paths = Paths::shared();
    plan.sink.begin(&plan.run)?;
    let mut plan_sink = std::mem::replace(&mut plan.sink, portolan_output::MultiSink(Vec::new()));
    let mut sink = resume::TrackingSink {
        inner: &mut plan_sink,
        index: index.clone(),
    };
    let env = flow::Env {
        clock: &clock,
        stop: &stop,
        stop_flag: stop.clone(),
        hosts_expected: hosts,
        socket_budget: budget,
        workers: std::thread::available_parallelism().map_or(1, |n| n.get().min(8)),
    };
    let targets = Box::new(Tracked::new(order, index.clone()));
    let done = flow::execute(&plan, &env, targets, &paths, &mut sink)?;
    let stats = done.stats;
    let mut summary = summary(&stats, &clock);
    if let Some(r) = &resumed {
        r.file.add_to(&mut summary);
    }
    plan_sink.end(&summary)?;
    warn_unroutable(&paths);
    if let Some(s) = done.raw.as_ref().filter(|_| plan.run.options.verbose > 0) {
        eprintln!(
            "Raw packets sent: {} ({} through raw IP sockets) | Rcvd: {} | Dropped: {}",
            s.sent, s.sent_raw_ip, s.received, s.dropped
        );
    }
    if !stats.interrupted {
        if let Some(r) = &resumed {
            // Finished: resuming from this file again would scan hosts twice.
            let _ = std::fs::remove_file(&r.path);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let totals = resume::RunTotals {
        hosts_total: stats.hosts_total,
        hosts_up: stats.hosts_up,
        elapsed_secs: clock.elapsed(clock.now()).as_secs_f64(),
    };
    save_resume_point(&plan, argv, &index, totals, resumed.as_ref());
    Ok(ExitCode::from(130))
}

fn warn_unroutable(paths: &SharedPaths) {
    let unroutable = std::mem::take(
        &mut paths
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .unroutable,
    );
    for (addr, why) in unroutable {
        eprintln!("Warning: nothing was sent to {addr} ({why}); its ports read as unanswered.");
    }
}

/// Hosts this run will scan (for the progress line); warns when none.
fn host_count(plan: &plan::Plan, resumed: Option<&Resumed>) -> u64 {
    let all = plan.targets.upper_bound();
    let shards = plan.shard.map_or(1, |s| u64::from(s.count()));
    let held = plan
        .targets
        .exact_count_in(plan.shard, 1 << 20)
        .unwrap_or(all / shards);
    if let (0, Some(shard)) = (held, plan.shard) {
        eprintln!("WARNING: shard {shard} holds none of the targets, so 0 hosts scanned.");
    } else if held == 0 {
        eprintln!("WARNING: No targets were specified, so 0 hosts scanned.");
    }
    held.saturating_sub(resumed.map_or(0, |r| r.file.hosts_total))
}

/// Writes the resume file of an interrupted scan and says how to continue.
fn save_resume_point(
    plan: &plan::Plan,
    argv: &[String],
    index: &portolan_targets::SharedResumeIndex,
    totals: resume::RunTotals,
    resumed: Option<&Resumed>,
) {
    let path = resume::file_path(plan, resumed);
    let saved = resume::record(plan, argv, index, totals, resumed)
        .and_then(|file| Ok(resume::save(&path, &file)?));
    match saved {
        Ok(()) => eprintln!("Resume with: portolan --resume {}", path.display()),
        Err(e) => eprintln!(
            "portolan: error: cannot write the resume file '{}': {e:#}",
            path.display()
        ),
    }
}
