//! Opening a data file safely: only regular files, checked before `open` so a FIFO cannot block.

use std::fs::{self, File};
use std::path::Path;

use super::error::LoadError;
use super::source::io_reason;

/// Opens a data file for [`load_csv`](super::load_csv) after checking (through symlinks) that it
/// is a regular file.
///
/// Checking first matters: on Linux `open` succeeds on a directory (the first read fails) and
/// blocks forever on a FIFO without a writer, and `/dev/zero` would feed the reader forever.
/// Errors: `cannot open data/calls.csv: No such file or directory`, `…: is a directory`,
/// `…: not a regular file (it is a FIFO)`, `…: Too many levels of symbolic links`.
///
/// # Errors
///
/// A [`LoadError`] without a line whose message names the path and the reason.
pub fn open_data_file(path: &Path) -> Result<File, LoadError> {
    let shown = path.display().to_string();
    // The message names the path on one line (a triple-quoted `csv("""…""")` is a path too).
    let line = crate::render::escape::sanitize_line(&shown);
    let fail = |reason: String| LoadError::file(&shown, format!("cannot open {line}: {reason}"));
    let meta = fs::metadata(path).map_err(|e| fail(io_reason(&e)))?;
    if !meta.is_file() {
        return Err(fail(not_regular(&meta)));
    }
    let file = File::open(path).map_err(|e| fail(io_reason(&e)))?;
    // The path may have been replaced between the two calls; check what was opened.
    match file.metadata() {
        Ok(m) if m.is_file() => Ok(file),
        Ok(m) => Err(fail(not_regular(&m))),
        Err(e) => Err(fail(io_reason(&e))),
    }
}

fn not_regular(meta: &fs::Metadata) -> String {
    if meta.is_dir() {
        return "is a directory".to_owned();
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let ft = meta.file_type();
        let kind = if ft.is_fifo() {
            Some("a FIFO")
        } else if ft.is_char_device() {
            Some("a character device")
        } else if ft.is_block_device() {
            Some("a block device")
        } else if ft.is_socket() {
            Some("a socket")
        } else {
            None
        };
        if let Some(kind) = kind {
            return format!("not a regular file (it is {kind})");
        }
    }
    "not a regular file".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// A fresh directory under the system temp dir, removed when dropped.
    struct Scratch(std::path::PathBuf);

    impl Scratch {
        fn new(name: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("kb-data-open-{}-{name}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }

        fn join(&self, name: &str) -> std::path::PathBuf {
            self.0.join(name)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_regular_file_opens() {
        let dir = Scratch::new("regular");
        let p = dir.join("calls.csv");
        fs::write(&p, "a\n1\n").unwrap();
        assert!(open_data_file(&p).is_ok());
    }

    #[test]
    fn a_missing_file_says_no_such_file() {
        let dir = Scratch::new("missing");
        let p = dir.join("calls.csv");
        let err = open_data_file(&p).unwrap_err();
        let shown = p.display().to_string();
        assert_eq!(err.message, format!("cannot open {shown}: No such file or directory"));
        assert_eq!(err.path, shown);
        assert_eq!(err.line, None);
        assert_eq!(err.to_string(), err.message);
    }

    #[test]
    fn a_directory_is_rejected() {
        let dir = Scratch::new("dir");
        let err = open_data_file(&dir.0).unwrap_err();
        assert_eq!(err.message, format!("cannot open {}: is a directory", dir.0.display()));
    }

    #[cfg(unix)]
    #[test]
    fn dev_zero_is_not_a_regular_file() {
        let err = open_data_file(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(
            err.message,
            "cannot open /dev/zero: not a regular file (it is a character device)"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_rejected_without_blocking() {
        let dir = Scratch::new("fifo");
        let p = dir.join("pipe");
        let status = std::process::Command::new("mkfifo").arg(&p).status().unwrap();
        assert!(status.success());
        let started = Instant::now();
        let err = open_data_file(&p).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(
            err.message,
            format!("cannot open {}: not a regular file (it is a FIFO)", p.display())
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_loop_is_reported() {
        let dir = Scratch::new("loop");
        let a = dir.join("a.csv");
        let b = dir.join("b.csv");
        std::os::unix::fs::symlink(&b, &a).unwrap();
        std::os::unix::fs::symlink(&a, &b).unwrap();
        let err = open_data_file(&a).unwrap_err();
        assert_eq!(
            err.message,
            format!("cannot open {}: Too many levels of symbolic links", a.display())
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_to_a_regular_file_opens() {
        let dir = Scratch::new("link");
        let target = dir.join("real.csv");
        fs::write(&target, "a\n").unwrap();
        let link = dir.join("link.csv");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(open_data_file(&link).is_ok());
    }
}
