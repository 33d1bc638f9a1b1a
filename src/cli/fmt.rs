//! `kpiblend fmt` (being written).

use clap::Args;

use super::output::Closed;
use super::{ColorChoice, Outcome};

#[derive(Args)]
pub struct FmtArgs {
    /// Files to format (standard input when none, or `-`)
    pub files: Vec<std::path::PathBuf>,
    /// Do not write; exit 1 and name the files that would change
    #[arg(long)]
    pub check: bool,
    /// Do not write; print a unified diff of the changes
    #[arg(long)]
    pub diff: bool,
}

pub fn run(_args: &FmtArgs, _color: ColorChoice) -> Result<Outcome, Closed> {
    super::output::eprint("error: `kpiblend fmt` is not available yet\n");
    Ok(Outcome::Failure)
}
