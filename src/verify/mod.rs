//! `fcap verify`'s engine: what a process gets when it executes a file.
//!
//! * [`model`]: the kernel's computation as a pure function (caller, file facts) →
//!   (outcome, new sets, reasons).
//! * [`chain`]: a chain of execs, user switches and forks, link by link.
//! * [`facts`]: gathering the file facts from the system (symlinks, `#!` chain, mount
//!   flags, modes and owners, the raw attribute).
//! * [`caller`]: the caller's state: this process, `--pid`, or a simulated
//!   `--user`/`--profile` caller (shared spec verify-caller.md).
//! * [`runtime`]: callers from deployment descriptors (OCI config, Kubernetes,
//!   Compose, `docker run`, systemd units), each mapped to an OCI process section
//!   and applied the way runc (or systemd) applies it.

pub mod caller;
pub mod chain;
pub mod facts;
pub mod image;
pub mod model;
pub mod runtime;
