//! Small generated programs over tiny tables, evaluated through `Project` and from files,
//! against a naive reference evaluator (see `kpiblend_fuzz::small`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kpiblend_fuzz::small::eval_small(data, kpiblend_fuzz::scratch_dir());
});
