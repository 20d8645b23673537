//! One module per subcommand. Each exposes its clap args struct and a
//! `run(args, out) -> Result<Exit>` that writes its normal output to `out`.

pub mod read;
