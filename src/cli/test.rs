//! `kpiblend test` (being written).

use clap::Args;

use super::output::Closed;
use super::{ColorChoice, Outcome};

#[derive(Args)]
pub struct TestArgs {
    /// KPI files whose `test` blocks to run
    pub files: Vec<std::path::PathBuf>,
}

pub fn run(_args: &TestArgs, _color: ColorChoice) -> Result<Outcome, Closed> {
    super::output::eprint("error: `kpiblend test` is not available yet\n");
    Ok(Outcome::Failure)
}
