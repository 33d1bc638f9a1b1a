//! The `kpiblend` command. All behaviour lives in `cli`; this only hands over the exit code.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
