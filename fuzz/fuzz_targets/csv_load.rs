//! Arbitrary bytes as a CSV file: `load_csv` never panics, counts add up, every error has a
//! line, and the fast path agrees (see `kpiblend_fuzz::checks::csv_load`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kpiblend_fuzz::checks::csv_load(data);
});
