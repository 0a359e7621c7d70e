//! `ProbeDb::parse` on arbitrary text: must never panic; every warning and error names a
//! line that exists, and whatever loads can run a plan.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portolan_model::Protocol;
use portolan_services::{End, Plan, PlanConfig, ProbeDb};
use std::time::Duration;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines = text.lines().count();
    match ProbeDb::parse(&text) {
        Ok((db, warnings)) => {
            assert!(warnings.iter().all(|w| w.line <= lines));
            let mut plan = Plan::new(&db, Protocol::Tcp, 80, PlanConfig::default());
            for _ in 0..16 {
                let Some(step) = plan.next_probe() else { break };
                let _ = plan.on_end(step.id, step.payload, End::Closed, Duration::ZERO);
            }
            let _ = plan.finish();
        }
        Err(e) => assert!(e.line() >= 1 && e.line() <= lines),
    }
});
