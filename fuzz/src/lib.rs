//! Shared code of the fuzz targets. `checks` and `small` are also included, unchanged, by
//! the integration tests (`tests/it/reliability.rs`, `tests/it/props.rs`), so committed
//! regression inputs are replayed through exactly the checks the fuzzer ran.

pub mod checks;
pub mod small;

/// A scratch directory for this process (the `eval_small` target writes `t.csv` there).
pub fn scratch_dir() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            std::path::PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("kpiblend-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("creating the scratch directory");
        dir
    })
}
