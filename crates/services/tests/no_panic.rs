//! Hostile databases and hostile answers: errors or warnings, never a panic.
#![allow(clippy::unwrap_used)]

use portolan_model::Protocol;
use portolan_services::template::Template;
use portolan_services::{perl_regex, End, Plan, PlanConfig, ProbeDb};
use proptest::prelude::*;
use std::time::Duration;

const SAMPLE: &str = include_str!("data/sample-probes");

/// Lines built from the grammar's own pieces, so the parser gets past the first word.
fn db_line() -> impl Strategy<Value = String> {
    let directive = prop::sample::select(vec![
        "Probe TCP",
        "Probe UDP",
        "match",
        "softmatch",
        "ports",
        "sslports",
        "rarity",
        "totalwaitms",
        "tcpwrappedms",
        "fallback",
        "Exclude",
        "Probe",
        "#",
    ]);
    let piece = prop::sample::select(vec![
        " x",
        " NULL",
        " q||",
        " q|\\x4",
        " q|\\",
        " m/",
        " m|^a(b)|",
        "/si",
        "/",
        "|",
        " p/",
        " v/$1/",
        " $P(1)",
        " $SUBST(1,\"a\",\"b\")",
        " $I(1,\">\")",
        " cpe:/a:b/a",
        " 80",
        "-",
        ",",
        " T:",
        "U:",
        " 0",
        " 9",
        " 99999999999",
        "(?=",
        "\\Z",
        "$",
        "{",
        "[",
        "]",
        "\u{e9}",
        "\0",
        " no-payload",
        " i",
        "\\1",
    ]);
    (directive, prop::collection::vec(piece, 0..8))
        .prop_map(|(d, ps)| format!("{d}{}", ps.concat()))
}

fn run_plan(db: &ProbeDb, proto: Protocol, port: u16, answers: &[Vec<u8>], ends: &[u8]) {
    let cfg = PlanConfig {
        intensity: (port % 10) as u8,
        tunnel: port % 2 == 0,
    };
    let mut plan = Plan::new(db, proto, port, cfg);
    for (i, answer) in answers.iter().enumerate() {
        let Some(step) = plan.next_probe() else { break };
        let end = match ends.get(i).copied().unwrap_or(0) % 3 {
            0 => End::Timeout,
            1 => End::Closed,
            _ => End::Reset,
        };
        if plan.on_data(step.id, answer).is_some() {
            break;
        }
        if plan
            .on_end(step.id, answer, end, Duration::from_millis(u64::from(port)))
            .is_some()
        {
            break;
        }
    }
    let _ = plan.is_done();
    let _ = plan.finish();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn parser_never_panics_on_arbitrary_text(text in "\\PC{0,400}") {
        let _ = ProbeDb::parse(&text);
    }

    #[test]
    fn parser_never_panics_on_grammar_shaped_lines(lines in prop::collection::vec(db_line(), 0..24)) {
        let text = lines.join("\n");
        match ProbeDb::parse(&text) {
            Ok((db, warnings)) => {
                for w in &warnings {
                    prop_assert!(w.line >= 1 && w.line <= lines.len());
                }
                run_plan(&db, Protocol::Tcp, 80, &[b"a".to_vec(), Vec::new()], &[1, 2]);
            }
            Err(e) => prop_assert!(e.line() >= 1 && e.line() <= lines.len()),
        }
    }

    #[test]
    fn pattern_compiler_never_panics(pattern in "\\PC{0,60}", i: bool, s: bool) {
        if let Ok(re) = perl_regex::compile(&pattern, i, s) {
            let _ = re.is_match(pattern.as_bytes());
        }
    }

    #[test]
    fn templates_never_panic(template in "[pvihod$PSUBSTI()0-9,\"<>/|: a-z]{0,60}", data in prop::collection::vec(any::<u8>(), 0..40)) {
        let (t, _) = Template::parse(&template);
        let re = regex::bytes::Regex::new(r"(?s-u)^(.?)(.?)(.*)$").unwrap();
        let caps = re.captures(&data).unwrap();
        let mut out = portolan_services::ServiceMatch::default();
        t.apply(&caps, &mut out);
        for field in [&out.product, &out.version, &out.hostname, &out.ostype, &out.devicetype].into_iter().flatten() {
            prop_assert!(field.len() <= portolan_services::template::FIELD_CAP);
        }
    }

    #[test]
    fn matcher_and_plan_never_panic_on_arbitrary_answers(
        answers in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 0..8),
        ends in prop::collection::vec(any::<u8>(), 0..8),
        port: u16,
        udp: bool,
    ) {
        let (db, _) = ProbeDb::parse(SAMPLE).unwrap();
        let proto = if udp { Protocol::Udp } else { Protocol::Tcp };
        for (id, _) in db.probes() {
            for answer in &answers {
                if let Some(m) = db.match_response(id, answer, None) {
                    for field in [&m.product, &m.version, &m.info, &m.hostname].into_iter().flatten() {
                        prop_assert!(field.bytes().all(|b| (0x20..=0x7e).contains(&b)));
                    }
                }
            }
        }
        run_plan(&db, proto, port, &answers, &ends);
    }
}
