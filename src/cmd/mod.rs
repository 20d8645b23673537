//! One module per subcommand. Each exposes its clap args struct and a
//! `run(args, out) -> Result<Exit>` that writes its normal output to `out`.

pub mod apply;
pub mod check;
pub mod explain;
pub mod grant;
pub mod list;
pub mod read;
pub mod revoke;
pub mod set;
pub mod verify;
