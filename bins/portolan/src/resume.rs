//! `--resume`: the file an interrupted scan leaves, and continuing from it.
//!
//! On Ctrl-C the scan stops, closes its outputs (so they stay valid) and
//! writes a resume file (JSON, [`ResumeFile`]): the command line, the seeds
//! that fix the target and port order, the shard, and where the scan stood
//! as a [`ResumePoint`] (every target below a position in the seeded order is
//! finished except a few listed ones, at most the host group). `portolan
//! --resume FILE` rebuilds the same plan from that command line, in the
//! directory it was typed in, visits only the unfinished targets, and
//! continues the output files. Hosts count as finished once they were
//! written to the outputs ([`TrackingSink`]), so the resume point always
//! matches what the files hold.

use crate::cli::Cli;
use crate::plan::{Plan, UsageError};
use anyhow::{Context, Result};
use clap::Parser;
use portolan_model::{HostResult, RunInfo, RunSummary};
use portolan_output::Sink;
use portolan_targets::resume::with_index;
use portolan_targets::{IntoTargets, ResumePoint, Shard, SharedResumeIndex};
use serde::{Deserialize, Serialize};
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// The `format` field of every resume file.
const FORMAT: &str = "portolan-resume";
/// The layout version this build reads and writes.
const VERSION: u32 = 1;
/// The resume file's name, next to the first output file (or in the current
/// directory when output goes only to the terminal).
const FILE_NAME: &str = "portolan.resume";

/// Everything needed to continue an interrupted scan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResumeFile {
    /// Always `portolan-resume`.
    pub format: String,
    /// Layout version; this build reads only [`VERSION`].
    pub version: u32,
    /// The portolan version that wrote the file (informational).
    pub portolan: String,
    /// The directory the scan was started in: relative paths mean the same.
    pub cwd: PathBuf,
    /// The original command line, program name first.
    pub argv: Vec<String>,
    /// Seed of the target order and of each host's port order.
    pub seed: u64,
    /// Probe-cookie key and source ports of a raw scan; `None` for -sT.
    pub raw: Option<RawKeys>,
    pub shard: Option<ShardRecord>,
    /// Size of the target index space, to detect changed targets.
    pub index_space: u64,
    /// Every target at a position below this one is finished, except
    /// those in `unfinished`.
    pub next_position: u64,
    /// Targets below `next_position` still in progress when the scan stopped.
    pub unfinished: Vec<Unfinished>,
    /// Hosts finished and up over all runs so far, and their time.
    pub hosts_total: u64,
    pub hosts_up: u64,
    pub elapsed_secs: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawKeys {
    pub key: [u64; 2],
    pub base_port: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardRecord {
    pub index: u32,
    pub count: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unfinished {
    pub position: u64,
    pub addr: IpAddr,
}

impl From<Shard> for ShardRecord {
    fn from(s: Shard) -> Self {
        ShardRecord {
            index: s.index(),
            count: s.count(),
        }
    }
}

impl ResumeFile {
    /// Where the scan stood.
    pub fn point(&self) -> ResumePoint {
        ResumePoint {
            next: self.next_position,
            unfinished: self
                .unfinished
                .iter()
                .map(|u| (u.position, u.addr))
                .collect(),
        }
    }

    /// Adds the earlier runs' hosts and time to this run's summary, so the
    /// continued outputs count the whole scan.
    pub fn add_to(&self, s: &mut RunSummary) {
        s.hosts_up += self.hosts_up;
        s.hosts_total += self.hosts_total;
        s.hosts_down = s.hosts_total - s.hosts_up;
        s.elapsed_secs += self.elapsed_secs;
    }
}

/// A scan being continued: its resume file and where that file is.
#[derive(Debug)]
pub struct Resumed {
    pub file: ResumeFile,
    pub path: PathBuf,
}

/// Loads `path` (given alone on the command line `raw`), moves to the
/// directory the scan was started in, and parses its command line.
pub fn start(raw: &[String], path: &Path) -> Result<(Cli, Resumed)> {
    only_resume(raw)?;
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let file = load(&path)?;
    std::env::set_current_dir(&file.cwd).map_err(|e| {
        UsageError(format!(
            "cannot resume from '{}': the scan's directory '{}': {e}",
            path.display(),
            file.cwd.display()
        ))
    })?;
    let mut cli = parse_argv(&file.argv, &path)?;
    // A scan that ran without raw packets continues without them, even if
    // this process may send them (it would otherwise switch to -sS).
    cli.unprivileged |= file.raw.is_none();
    Ok((cli, Resumed { file, path }))
}

/// `--resume FILE` takes no other option, as Nmap's does.
fn only_resume(raw: &[String]) -> Result<()> {
    let mut rest = raw.iter().skip(1);
    while let Some(tok) = rest.next() {
        if tok == "--resume" {
            rest.next();
        } else if !tok.starts_with("--resume=") {
            return Err(UsageError(format!(
                "--resume takes no other options (the scan's own come from the resume file): remove '{tok}'"
            ))
            .into());
        }
    }
    Ok(())
}

fn load(path: &Path) -> Result<ResumeFile> {
    /// Read first, so a file of another version is named as such.
    #[derive(Deserialize)]
    struct Header {
        format: String,
        version: u32,
    }
    let bad = |why: String| UsageError(format!("cannot resume from '{}': {why}", path.display()));
    let not_ours = |e: serde_json::Error| bad(format!("not a portolan resume file ({e})"));
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let header: Header = serde_json::from_str(&text).map_err(not_ours)?;
    if header.format != FORMAT {
        let f = header.format;
        return Err(bad(format!("not a portolan resume file (format '{f}')")).into());
    }
    if header.version != VERSION {
        let v = header.version;
        return Err(bad(format!("format version {v}; this portolan reads {VERSION}")).into());
    }
    Ok(serde_json::from_str(&text).map_err(not_ours)?)
}

fn parse_argv(argv: &[String], path: &Path) -> Result<Cli> {
    let bad = |why: String| {
        UsageError(format!(
            "cannot resume from '{}': its command line no longer parses: {why}",
            path.display()
        ))
    };
    let normalized = crate::normalize::normalize(argv.to_vec()).map_err(|e| bad(e.to_string()))?;
    let cli = Cli::try_parse_from(normalized).map_err(|e| bad(e.kind().to_string()))?;
    if cli.resume.is_some() {
        return Err(bad("it holds --resume".into()).into());
    }
    Ok(cli)
}

/// Gives the plan the interrupted run's seeds and checks that its shard and
/// targets are still those of the interrupted run.
pub fn apply(plan: &mut Plan, r: &Resumed) -> Result<()> {
    let f = &r.file;
    let mismatch = |what: &str| {
        UsageError(format!(
            "cannot resume from '{}': {what} changed since the interrupted scan",
            r.path.display()
        ))
    };
    plan.config.seed = f.seed;
    match (plan.config.raw.as_mut(), f.raw) {
        (Some(raw), Some(saved)) => {
            raw.key = (saved.key[0], saved.key[1]);
            raw.base_port = saved.base_port;
        }
        (None, None) => {}
        (None, Some(_)) => {
            return Err(UsageError(
                "the interrupted scan sent raw packets, which needs root or CAP_NET_RAW: resume it as root".into(),
            )
            .into())
        }
        (Some(_), None) => return Err(mismatch("the scan type").into()),
    }
    if plan.shard.map(ShardRecord::from) != f.shard {
        return Err(mismatch("the shard").into());
    }
    let order = target_order(plan, None);
    let same =
        |u: &Unfinished| order.target_at_position(u.position).map(|t| t.addr) == Some(u.addr);
    if plan.targets.upper_bound() != f.index_space || !f.unfinished.iter().all(same) {
        return Err(mismatch("the target list (or what its names resolve to)").into());
    }
    plan.run.notes.push(format!(
        "Resuming the scan interrupted earlier ({}): {} hosts were finished then.",
        r.path.display(),
        f.hosts_total
    ));
    Ok(())
}

/// The plan's targets in seeded order, within its shard, from `start`.
pub fn target_order(plan: &Plan, start: Option<&ResumePoint>) -> IntoTargets {
    let mut order = plan.targets.clone().into_iter_seeded(plan.config.seed);
    if let Some(shard) = plan.shard {
        order = order.sharded(shard);
    }
    match start {
        Some(p) => order.resume(p),
        None => order,
    }
}

/// Where an interrupted scan writes its resume file: the file it was resumed
/// from, or `portolan.resume` next to the first output file.
pub fn file_path(plan: &Plan, resumed: Option<&Resumed>) -> PathBuf {
    if let Some(r) = resumed {
        return r.path.clone();
    }
    let dir = plan
        .output_files
        .first()
        .and_then(|f| Path::new(f).parent())
        .unwrap_or(Path::new(""));
    let path = dir.join(FILE_NAME);
    std::path::absolute(&path).unwrap_or(path)
}

/// What this run adds to the scan, for the resume file.
#[derive(Debug, Clone, Copy)]
pub struct RunTotals {
    pub hosts_total: u64,
    pub hosts_up: u64,
    pub elapsed_secs: f64,
}

/// The resume file for a scan stopped now.
pub fn record(
    plan: &Plan,
    argv: &[String],
    index: &SharedResumeIndex,
    totals: RunTotals,
    resumed: Option<&Resumed>,
) -> Result<ResumeFile> {
    let point = with_index(index, |i| i.point());
    let earlier = resumed.map(|r| &r.file);
    let sum = |f: fn(&ResumeFile) -> u64| earlier.map_or(0, f);
    let raw = plan.config.raw.map(|r| RawKeys {
        key: [r.key.0, r.key.1],
        base_port: r.base_port,
    });
    let cwd = match earlier {
        Some(f) => f.cwd.clone(),
        None => std::env::current_dir().context("cannot find the current directory")?,
    };
    Ok(ResumeFile {
        format: FORMAT.into(),
        version: VERSION,
        portolan: env!("CARGO_PKG_VERSION").into(),
        cwd,
        argv: argv.to_vec(),
        seed: plan.config.seed,
        raw,
        shard: plan.shard.map(ShardRecord::from),
        index_space: plan.targets.upper_bound(),
        next_position: point.next,
        unfinished: point
            .unfinished
            .into_iter()
            .map(|(position, addr)| Unfinished { position, addr })
            .collect(),
        hosts_total: totals.hosts_total + sum(|f| f.hosts_total),
        hosts_up: totals.hosts_up + sum(|f| f.hosts_up),
        elapsed_secs: totals.elapsed_secs + earlier.map_or(0.0, |f| f.elapsed_secs),
    })
}

/// Writes `file` to `path` whole or not at all (a temporary file, renamed).
pub fn save(path: &Path, file: &ResumeFile) -> io::Result<()> {
    let mut text = serde_json::to_string_pretty(file).map_err(io::Error::other)?;
    text.push('\n');
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// A sink that marks each host finished in the resume index once every
/// output has it.
pub struct TrackingSink<'a> {
    pub inner: &'a mut dyn Sink,
    pub index: SharedResumeIndex,
}

impl std::fmt::Debug for TrackingSink<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrackingSink").finish_non_exhaustive()
    }
}

impl Sink for TrackingSink<'_> {
    fn begin(&mut self, run: &RunInfo) -> io::Result<()> {
        self.inner.begin(run)
    }

    fn host(&mut self, host: &HostResult) -> io::Result<()> {
        self.inner.host(host)?;
        with_index(&self.index, |i| i.finished(host.addr));
        Ok(())
    }

    fn end(&mut self, summary: &RunSummary) -> io::Result<()> {
        self.inner.end(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ResumeFile {
        ResumeFile {
            format: FORMAT.into(),
            version: VERSION,
            portolan: "0.1.0".into(),
            cwd: "/tmp/scan dir".into(),
            argv: [
                "portolan",
                "-sT",
                "-p",
                "22,80",
                "--shard",
                "2/3",
                "198.18.0.0/24",
            ]
            .map(String::from)
            .to_vec(),
            seed: u64::MAX - 7,
            raw: Some(RawKeys {
                key: [u64::MAX, 1 << 60],
                base_port: 40_123,
            }),
            shard: Some(ShardRecord { index: 2, count: 3 }),
            index_space: 256,
            next_position: 130,
            unfinished: vec![
                Unfinished {
                    position: 97,
                    addr: "198.18.0.7".parse().unwrap(),
                },
                Unfinished {
                    position: 120,
                    addr: "2001:db8::1".parse().unwrap(),
                },
            ],
            hosts_total: 40,
            hosts_up: 39,
            elapsed_secs: 1.25,
        }
    }

    #[test]
    fn resume_file_round_trips() {
        let dir = std::env::temp_dir().join(format!("portolan-resume-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("portolan.resume");
        let file = sample();
        save(&path, &file).unwrap();
        assert_eq!(load(&path).unwrap(), file);
        let text = std::fs::read_to_string(&path).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["format"], "portolan-resume");
        assert_eq!(v["version"], 1);
        assert_eq!(
            v["seed"].as_u64(),
            Some(u64::MAX - 7),
            "seeds keep every bit"
        );
        assert_eq!(v["unfinished"][1]["addr"], "2001:db8::1");
        assert_eq!(
            file.point(),
            ResumePoint {
                next: 130,
                unfinished: vec![
                    (97, "198.18.0.7".parse().unwrap()),
                    (120, "2001:db8::1".parse().unwrap())
                ],
            }
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn wrong_files_are_usage_errors_naming_the_file() {
        let dir = std::env::temp_dir().join(format!("portolan-resume-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cases = [
            ("missing", None, "No such file"),
            ("garbage", Some("not json"), "not a portolan resume file"),
            ("other", Some(r#"{"format":"x","version":1}"#), "format 'x'"),
            (
                "newer",
                Some(r#"{"format":"portolan-resume","version":2,"x":[]}"#),
                "version 2",
            ),
            (
                "short",
                Some(r#"{"format":"portolan-resume","version":1}"#),
                "missing field",
            ),
        ];
        for (name, body, why) in cases {
            let path = dir.join(name);
            if let Some(b) = body {
                std::fs::write(&path, b).unwrap();
            }
            let err = load(&path).unwrap_err();
            assert!(err.downcast_ref::<UsageError>().is_some(), "{name}: {err}");
            assert!(err.to_string().contains(name), "{name}: {err}");
            assert!(err.to_string().contains(why), "{name}: {err}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn resume_is_given_alone() {
        let argv = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert!(only_resume(&argv("portolan --resume f")).is_ok());
        assert!(only_resume(&argv("portolan --resume=f")).is_ok());
        let err = only_resume(&argv("portolan --resume f -sT")).unwrap_err();
        assert!(err.to_string().contains("'-sT'"), "{err}");
        let err = only_resume(&argv("portolan -v --resume f")).unwrap_err();
        assert!(err.to_string().contains("'-v'"), "{err}");
    }

    #[test]
    fn summaries_count_every_run() {
        let mut s = RunSummary {
            end_time: 0,
            elapsed_secs: 2.0,
            hosts_up: 5,
            hosts_down: 1,
            hosts_total: 6,
            error: None,
        };
        sample().add_to(&mut s);
        assert_eq!((s.hosts_up, s.hosts_down, s.hosts_total), (44, 2, 46));
        assert!((s.elapsed_secs - 3.25).abs() < 1e-9);
    }
}
