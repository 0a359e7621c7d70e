//! Arbitrary answers against a small probe database that exercises every template
//! form, and against Portolan's own database: matching and planning must never
//! panic, and version fields stay printable ASCII.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portolan_model::Protocol;
use portolan_services::{End, Plan, PlanConfig, ProbeDb};
use std::sync::OnceLock;
use std::time::Duration;

const DB: &str = r#"
Probe TCP NULL q||
match ssh m/^SSH-([\d.]+)-(\S+)\r?\n/ p/$P(2)/ v/$1/ cpe:/a:x:$2/
match bin m|^B(.{2})(.{4})(.*)$|s v/$I(1,">")/ i/$I(2,"<")/ h/$SUBST(3,"\0",".")/
softmatch ssl m|^\x16\x03|
softmatch ftp m|^220[- ][^\r\n]*ftp|i
Probe TCP Get q|GET / HTTP/1.0\r\n\r\n|
ports 80
fallback NULL
match http m|^HTTP/1\.[01] \d+.*\r\nServer: ([^\r\n]+)|s p/$1/
match ftp m|^214 (\w+)| p/$1/
Probe UDP Any q|?|
match any m|^(.+)$|s i/$1/
"#;

fn dbs() -> &'static [ProbeDb; 2] {
    static DB_CELL: OnceLock<[ProbeDb; 2]> = OnceLock::new();
    DB_CELL.get_or_init(|| {
        let small = match ProbeDb::parse(DB) {
            Ok((db, _)) => db,
            Err(e) => panic!("fuzz database: {e}"),
        };
        let ours = match ProbeDb::builtin() {
            Ok((db, _)) => db,
            Err(e) => panic!("builtin database: {e}"),
        };
        [small, ours]
    })
}

fuzz_target!(|data: &[u8]| {
    for db in dbs() {
        one_db(db, data);
    }
});

fn one_db(db: &ProbeDb, data: &[u8]) {
    let printable = |s: &Option<String>| {
        s.as_ref()
            .is_none_or(|s| s.bytes().all(|b| (0x20..=0x7e).contains(&b)))
    };
    for (id, _) in db.probes() {
        if let Some(m) = db.match_response(id, data, None) {
            assert!(
                printable(&m.product)
                    && printable(&m.version)
                    && printable(&m.info)
                    && printable(&m.hostname)
            );
        }
    }
    let (head, tail) = data.split_at(data.len() / 2);
    // The first two bytes choose the port, and so which probes the plan lists first.
    let port = match data {
        [a, b, ..] => u16::from_be_bytes([*a, *b]),
        _ => 80,
    };
    for proto in [Protocol::Tcp, Protocol::Udp] {
        let mut plan = Plan::new(db, proto, port, PlanConfig::default());
        for _ in 0..32 {
            let Some(step) = plan.next_probe() else { break };
            if plan.on_data(step.id, head).is_some()
                || plan
                    .on_end(
                        step.id,
                        data,
                        End::Reset,
                        Duration::from_millis(tail.len() as u64),
                    )
                    .is_some()
            {
                break;
            }
        }
        let _ = plan.finish();
    }
}
