//! What a new user meets first (issue 12): usage errors, silence after a command,
//! advice that must be runnable, a CI gate that must check something.

use crate::util::*;

/// Every usage error is one line in fcap's style, with the usage and where the help is,
/// and exits 2 (clap's own style is several lines starting with `error:`).
#[test]
fn usage_errors_are_one_fcap_line_with_a_usage_hint() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["grant"],
            "fcap: the following required arguments were not provided: <CAPS> <PATH>... (usage: fcap grant <CAPS> <PATH>...; see 'fcap grant --help')\n",
        ),
        (
            &["read", "--jsn", "x"],
            "fcap: unexpected argument '--jsn' found; tip: a similar argument exists: '--json' (usage: fcap read --json <PATH>...; see 'fcap read --help')\n",
        ),
        (
            &["frob"],
            "fcap: unrecognized subcommand 'frob' (usage: fcap [OPTIONS] <COMMAND>; see 'fcap --help')\n",
        ),
        (
            &["verify", "x", "--profile", "foo"],
            "fcap: invalid value 'foo' for '--profile <NAME>' [possible values: docker, k8s-restricted] (see 'fcap verify --help')\n",
        ),
    ];
    for (args, want) in cases {
        fcap_run(*args).status(2).stdout_is("").stderr_is(want);
    }
    // Help and version are not errors.
    let r = fcap_run(["grant", "--help"]);
    r.ok().stderr_is("");
    assert!(r.stdout().contains("Usage: fcap grant"), "{}", r.stdout());
    fcap_run(["--version"]).ok().stderr_is("");
}
