//! Runs a target over every file of a directory without libFuzzer, to time the harness and
//! the library apart from libFuzzer's bookkeeping (`--release`, no coverage instrumentation):
//!
//!     cd fuzz && cargo run --release --example replay -- eval_small corpus/eval_small
//!
//! `source` instead of a target prints the program `eval_small` generates from each file.
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, target, dir] = &args[..] else {
        eprintln!("usage: replay eval_small|parse_check|csv_load|source DIR");
        std::process::exit(2);
    };
    let mut inputs = Vec::new();
    for entry in std::fs::read_dir(dir).expect("reading the corpus") {
        inputs.push(std::fs::read(entry.expect("an entry").path()).expect("reading an input"));
    }
    let start = Instant::now();
    for data in &inputs {
        match target.as_str() {
            "eval_small" => kpiblend_fuzz::small::eval_small(data, kpiblend_fuzz::scratch_dir()),
            "parse_check" => kpiblend_fuzz::checks::parse_check(data),
            "csv_load" => kpiblend_fuzz::checks::csv_load(data),
            "source" => println!("{}", kpiblend_fuzz::small::Case::from_bytes(data).source()),
            _ => panic!("unknown target `{target}`"),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let rate = inputs.len() as f64 / secs;
    eprintln!("{} inputs in {secs:.2} s: {rate:.0}/s", inputs.len());
}
