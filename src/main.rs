//! The `fcap` binary: everything lives in the library, so that tests, the man page
//! and the completions see the same command definition.

fn main() -> std::process::ExitCode {
    // Rust ignores SIGPIPE by default, so `fcap read -r / | head` gets EPIPE on write;
    // the library turns that into a quiet exit 0.
    fcap::main_with_args()
}
