//! fcap's integration tests: one binary, one module per subcommand. They run the real
//! binary on real files with real `security.capability` xattrs, and use libcap's own
//! `setcap`/`getcap`/`capsh` as the oracle.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

mod ansible;
mod audit;
mod catalogue;
mod chain;
mod compat;
mod engines;
mod generated;
mod hardening;
mod image;
mod image_bad;
mod image_engines;
mod image_write;
mod maintscripts;
mod manifest;
mod newuser;
mod package;
mod read;
mod runtime;
mod text_oracle;
mod tour;
mod verify;
mod verify_elf;
mod verify_image;
mod verify_userns;
mod write;
