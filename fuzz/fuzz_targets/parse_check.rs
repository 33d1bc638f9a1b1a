//! Arbitrary bytes as a KPI file: `check_text` never panics, every error has a place, and a
//! file that checks clean survives `fmt` (see `kpiblend_fuzz::checks::parse_check`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kpiblend_fuzz::checks::parse_check(data);
});
