//! The command-line surface: any argument vector parses or is refused, never panics.
//! Arguments are the input split at NUL bytes. Only parsing runs: executing a
//! random command line as root could write to the machine.
#![no_main]

use clap::Parser;
use fcap::cli::Cli;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let args = std::iter::once(std::ffi::OsString::from("fcap")).chain(
        data.split(|b| *b == 0)
            .map(|a| <std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(a.to_vec())),
    );
    match Cli::try_parse_from(args) {
        Ok(cli) => {
            let _ = format!("{cli:?}");
        }
        Err(e) => {
            let _ = e.render().to_string();
        }
    }
});
