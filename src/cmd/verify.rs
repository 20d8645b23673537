//! `fcap verify`: Predict what a process gets when it executes a file, and why.

use crate::error::Exit;
use std::io::Write;

/// Predict what a process gets when it executes a file, and why.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {}

/// Run `fcap verify`.
pub fn run(_args: &VerifyArgs, _color: bool, _out: &mut dyn Write) -> anyhow::Result<Exit> {
    anyhow::bail!("'fcap verify' is not available in this build yet")
}
