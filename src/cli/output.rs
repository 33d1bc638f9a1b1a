//! Writing to stdout and stderr without ever panicking: a closed pipe (`| head -1`)
//! ends the run quietly, and any other write error (a full disk) is reported once.

use std::io::{self, Write};

/// Stdout was closed by the reader; stop quietly.
#[derive(Debug)]
pub struct Closed;

pub struct Out {
    inner: io::BufWriter<io::StdoutLock<'static>>,
}

impl Out {
    pub fn stdout() -> Out {
        Out { inner: io::BufWriter::with_capacity(64 << 10, io::stdout().lock()) }
    }

    /// Writes text; a broken pipe becomes [`Closed`], other errors are reported on stderr
    /// and also end the run (exit code 2).
    pub fn write(&mut self, text: &str) -> Result<(), Closed> {
        self.inner.write_all(text.as_bytes()).map_err(fail)
    }

    pub fn line(&mut self, text: &str) -> Result<(), Closed> {
        self.write(text)?;
        self.write("\n")
    }

    pub fn flush(&mut self) -> Result<(), Closed> {
        self.inner.flush().map_err(fail)
    }
}

impl Drop for Out {
    fn drop(&mut self) {
        // Errors were already reported by `flush`; a late one has nowhere to go.
        let _ = self.inner.flush();
    }
}

fn fail(e: io::Error) -> Closed {
    if e.kind() != io::ErrorKind::BrokenPipe {
        let _ = writeln!(
            io::stderr(),
            "error: cannot write output: {}",
            kpiblend::check::io_reason(&e)
        );
        FAILED.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    Closed
}

/// Set when output failed for a reason other than a closed pipe.
pub static FAILED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Writes to stderr, ignoring errors (there is nowhere left to report them).
pub fn eprint(text: &str) {
    let _ = io::stderr().lock().write_all(text.as_bytes());
}
