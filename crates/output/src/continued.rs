//! Continuing the output files of an interrupted scan (`--resume`).
//!
//! A resumed scan appends to the normal, grepable and JSON Lines files: each
//! gains a second run (header, hosts, footer or summary line) after the
//! first. The XML file must stay one document, so it is cut just before its
//! last `<runstats>` element and the resumed run appends its hosts and a new
//! `<runstats>` and `</nmaprun>`; [`ContinuedXmlSink`] writes everything but
//! the prologue, which the file already holds.
//!
//! Every file is checked first ([`check_continuation`]): it must end as a
//! finished run of its format leaves it, or it is refused untouched, so a
//! resume never appends to someone else's file or to a file cut short.

use crate::{fallback_run, Out, Sink, XmlSink};
use portolan_model::{HostResult, RunInfo, RunSummary};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use thiserror::Error;

/// How much of a file's end is read to check it: far more than any footer.
const TAIL: u64 = 64 * 1024;

/// The file formats a resumed scan continues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileFormat {
    Normal,
    Xml,
    Grepable,
    JsonLines,
}

impl FileFormat {
    fn name(self) -> &'static str {
        match self {
            FileFormat::Normal => "normal-output (-oN)",
            FileFormat::Xml => "XML (-oX)",
            FileFormat::Grepable => "grepable (-oG)",
            FileFormat::JsonLines => "JSON Lines (-oJ)",
        }
    }
}

/// Why an output file cannot be continued.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ContinueError {
    #[error("cannot continue output file '{}': {source}", path.display())]
    Unreadable { path: PathBuf, source: io::Error },
    #[error(
        "cannot continue output file '{}': it does not end like a finished {format} file ({why}); \
         was it changed or replaced since the interrupted scan?",
        path.display()
    )]
    Unexpected {
        path: PathBuf,
        format: &'static str,
        why: &'static str,
    },
}

/// An output file that ends as the interrupted run left it, ready to continue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Continuation {
    path: PathBuf,
    /// Where the XML's last `<runstats>` begins (the file is cut there).
    truncate_at: Option<u64>,
}

/// Checks that `path` ends like a finished `format` file; changes nothing.
pub fn check_continuation(path: &Path, format: FileFormat) -> Result<Continuation, ContinueError> {
    let unreadable = |source| ContinueError::Unreadable {
        path: path.to_owned(),
        source,
    };
    let (head, tail, tail_start) = read_ends(path).map_err(unreadable)?;
    let unexpected = |why| ContinueError::Unexpected {
        path: path.to_owned(),
        format: format.name(),
        why,
    };
    let truncate_at = match format {
        FileFormat::Normal | FileFormat::Grepable => {
            check_done_comment(&tail).map_err(unexpected)?;
            None
        }
        FileFormat::JsonLines => {
            check_summary_line(&tail).map_err(unexpected)?;
            None
        }
        FileFormat::Xml => {
            if !head.starts_with(b"<?xml") {
                return Err(unexpected("no XML declaration at the start"));
            }
            let at = runstats_offset(&tail).map_err(unexpected)?;
            Some(tail_start + at as u64)
        }
    };
    Ok(Continuation {
        path: path.to_owned(),
        truncate_at,
    })
}

impl Continuation {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Cuts an XML file before its last `<runstats>` and opens the file for
    /// appending. Check every file before opening any, so a refused file
    /// leaves the others untouched.
    pub fn open(&self) -> io::Result<File> {
        let file = OpenOptions::new().append(true).open(&self.path)?;
        if let Some(at) = self.truncate_at {
            file.set_len(at)?;
        }
        Ok(file)
    }
}

/// The first few bytes, the last [`TAIL`] bytes and where that tail starts.
fn read_ends(path: &Path) -> io::Result<(Vec<u8>, Vec<u8>, u64)> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut head = vec![0u8; 16];
    let n = file.read(&mut head)?;
    head.truncate(n);
    let start = len.saturating_sub(TAIL);
    file.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail)?;
    Ok((head, tail, start))
}

/// The last line of `tail` that is not blank, once `tail` ends with a newline.
fn last_line(tail: &[u8]) -> Result<String, &'static str> {
    if tail.last() != Some(&b'\n') {
        return Err("the last line is cut short");
    }
    let text = String::from_utf8_lossy(tail);
    let line = text.trim_end().lines().next_back().unwrap_or_default();
    Ok(line.to_owned())
}

/// Normal and grepable files end with `# <Scanner> done at ... -- ...`.
fn check_done_comment(tail: &[u8]) -> Result<(), &'static str> {
    let last = last_line(tail)?;
    match last.starts_with("# ") && last.contains(" done at ") {
        true => Ok(()),
        false => Err("the last line is not the '# ... done at ...' comment"),
    }
}

/// JSON Lines files end with the run's summary line.
fn check_summary_line(tail: &[u8]) -> Result<(), &'static str> {
    let last = last_line(tail)?;
    let value: serde_json::Value =
        serde_json::from_str(&last).map_err(|_| "the last line is not JSON")?;
    match value.get("type").and_then(|t| t.as_str()) {
        Some("summary") => Ok(()),
        _ => Err("the last line is not a summary line"),
    }
}

/// The byte offset in `tail` of the last `<runstats>`, after checking that
/// only the run statistics and the closing `</nmaprun>` follow it.
fn runstats_offset(tail: &[u8]) -> Result<usize, &'static str> {
    let needle = b"<runstats>";
    let at = tail
        .windows(needle.len())
        .rposition(|w| w == needle)
        .ok_or("no <runstats> element at the end")?;
    let rest = String::from_utf8_lossy(&tail[at..]);
    let rest = rest.trim_end();
    if !rest.ends_with("</nmaprun>") {
        return Err("it does not end with </nmaprun>");
    }
    if !rest.contains("</runstats>") || rest.contains("<host ") || rest.contains("<host>") {
        return Err("unexpected content after <runstats>");
    }
    Ok(at)
}

/// An XML sink continuing a document cut by [`Continuation::open`]: `begin`
/// writes nothing (the prologue is already in the file); hosts and the run
/// statistics are written as by [`XmlSink`].
pub struct ContinuedXmlSink {
    inner: XmlSink,
    open: Arc<AtomicBool>,
    begun: bool,
}

impl ContinuedXmlSink {
    pub fn new(out: Out) -> Self {
        let open = Arc::new(AtomicBool::new(false));
        let gate = Gate {
            out,
            open: open.clone(),
        };
        ContinuedXmlSink {
            inner: XmlSink::new(Box::new(gate)),
            open,
            begun: false,
        }
    }

    /// As [`XmlSink`] does, a sink used without `begin` assumes a default run,
    /// but here without writing its prologue.
    fn ensure_begun(&mut self) -> io::Result<()> {
        if !self.begun {
            self.begin(&fallback_run())?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for ContinuedXmlSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContinuedXmlSink").finish_non_exhaustive()
    }
}

impl Sink for ContinuedXmlSink {
    fn begin(&mut self, run: &RunInfo) -> io::Result<()> {
        self.open.store(false, Ordering::Relaxed);
        let result = self.inner.begin(run);
        self.open.store(true, Ordering::Relaxed);
        self.begun = true;
        result
    }

    fn host(&mut self, host: &HostResult) -> io::Result<()> {
        self.ensure_begun()?;
        self.inner.host(host)
    }

    fn end(&mut self, summary: &RunSummary) -> io::Result<()> {
        self.ensure_begun()?;
        self.inner.end(summary)
    }
}

/// A writer that drops what it is given while its gate is closed.
struct Gate {
    out: Out,
    open: Arc<AtomicBool>,
}

impl Write for Gate {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.open.load(Ordering::Relaxed) {
            true => self.out.write(buf),
            false => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{reference_host, run_info, summary, SharedBuf};
    use crate::{GrepableSink, JsonLinesSink, NormalMode, NormalSink};
    use portolan_model::OutputOptions;

    fn interrupted() -> RunSummary {
        RunSummary {
            error: Some("Interrupted by user (Ctrl-C)".into()),
            ..summary()
        }
    }

    /// One run of `sink`: begin, one host, end.
    fn write_run(mut sink: Box<dyn Sink>, end: &RunSummary) {
        let run = run_info(OutputOptions::default());
        sink.begin(&run).unwrap();
        sink.host(&reference_host()).unwrap();
        sink.end(end).unwrap();
    }

    fn file_out(path: &Path) -> Out {
        Box::new(File::create(path).unwrap())
    }

    #[test]
    fn xml_is_cut_at_runstats_and_continued_as_one_document() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scan.xml");
        write_run(Box::new(XmlSink::new(file_out(&path))), &interrupted());
        let first = std::fs::read_to_string(&path).unwrap();
        let c = check_continuation(&path, FileFormat::Xml).unwrap();
        let cut = first.rfind("<runstats>").unwrap();
        assert_eq!(c.truncate_at, Some(cut as u64));
        let file = c.open().unwrap();
        let mut second = reference_host();
        second.addr = "198.18.0.77".parse().unwrap();
        let mut sink = ContinuedXmlSink::new(Box::new(file));
        sink.begin(&run_info(OutputOptions::default())).unwrap();
        sink.host(&second).unwrap();
        sink.end(&summary()).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(&first[..cut]), "the first run is kept");
        assert_eq!(text.matches("<?xml").count(), 1);
        assert_eq!(text.matches("<nmaprun").count(), 1);
        assert_eq!(text.matches("<runstats>").count(), 1);
        assert_eq!(text.matches("<host ").count(), 2);
        assert!(text.contains("addr=\"198.18.0.77\""));
        assert!(!text.contains("exit=\"error\""), "the old runstats is gone");
        assert!(text.ends_with("</runstats>\n</nmaprun>\n"));
        // The result continues again just as well.
        assert!(check_continuation(&path, FileFormat::Xml).is_ok());
    }

    #[test]
    fn text_formats_are_appended_after_their_footer() {
        let dir = tempfile::tempdir().unwrap();
        type MakeSink = fn(Out) -> Box<dyn Sink>;
        let cases: [(FileFormat, MakeSink); 3] = [
            (FileFormat::Normal, |o| {
                Box::new(NormalSink::new(o, NormalMode::File))
            }),
            (FileFormat::Grepable, |o| Box::new(GrepableSink::new(o))),
            (FileFormat::JsonLines, |o| Box::new(JsonLinesSink::new(o))),
        ];
        for (format, make) in cases {
            let path = dir.path().join(format!("{format:?}"));
            write_run(make(file_out(&path)), &interrupted());
            let first = std::fs::read_to_string(&path).unwrap();
            let c = check_continuation(&path, format).unwrap();
            assert_eq!(c.truncate_at, None);
            write_run(make(Box::new(c.open().unwrap())), &summary());
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(text.starts_with(&first), "{format:?}: first run kept");
            assert!(text.len() > first.len(), "{format:?}: second run appended");
            assert!(check_continuation(&path, format).is_ok(), "{format:?}");
        }
    }

    #[test]
    fn files_that_do_not_end_as_expected_are_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let xml = dir.path().join("a.xml");
        write_run(Box::new(XmlSink::new(file_out(&xml))), &summary());
        let full = std::fs::read_to_string(&xml).unwrap();
        let cases = [
            (FileFormat::Xml, full[..full.len() - 5].to_string()),
            (FileFormat::Xml, full.replace("<runstats>", "<runstuff>")),
            (FileFormat::Xml, format!("junk{full}")),
            (FileFormat::Xml, String::new()),
            (
                FileFormat::Normal,
                "# Portolan scan initiated\nhost\n".into(),
            ),
            (FileFormat::Grepable, "# Portolan done at x -- 1 IP".into()),
            (FileFormat::JsonLines, "{\"type\":\"host\"}\n".into()),
            (FileFormat::JsonLines, "not json\n".into()),
        ];
        for (i, (format, text)) in cases.into_iter().enumerate() {
            let path = dir.path().join(format!("bad{i}"));
            std::fs::write(&path, &text).unwrap();
            let err = check_continuation(&path, format).unwrap_err();
            assert!(
                matches!(err, ContinueError::Unexpected { .. }),
                "case {i}: {err}"
            );
            assert!(err.to_string().contains(&format!("bad{i}")), "{err}");
            assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        }
        let missing = dir.path().join("missing.xml");
        let err = check_continuation(&missing, FileFormat::Xml).unwrap_err();
        assert!(matches!(err, ContinueError::Unreadable { .. }), "{err}");
        assert!(err.to_string().contains("missing.xml"));
    }

    #[test]
    fn a_continued_xml_sink_never_writes_a_prologue() {
        let buf = SharedBuf::default();
        let mut sink = ContinuedXmlSink::new(Box::new(buf.clone()));
        sink.begin(&run_info(OutputOptions::default())).unwrap();
        assert_eq!(buf.text(), "");
        sink.host(&reference_host()).unwrap();
        assert!(buf.text().starts_with("<host"), "{}", buf.text());
        let unbegun = SharedBuf::default();
        let mut sink = ContinuedXmlSink::new(Box::new(unbegun.clone()));
        sink.host(&reference_host()).unwrap();
        assert!(unbegun.text().starts_with("<host"), "{}", unbegun.text());
    }
}
