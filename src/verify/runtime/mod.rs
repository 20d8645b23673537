//! Callers described by a container runtime's or service manager's configuration.
//!
//! Every engine (Docker, containerd, CRI-O, Podman) ends by handing runc an OCI
//! runtime config whose `process` section is the entrypoint's caller. So each
//! descriptor is first mapped to a [`Process`] (a pure function, independent of
//! where the files come from), and [`Process::to_caller`] then replays what runc does
//! with it (shared spec runtimes.md §1): drop the bounding set, switch user keeping
//! the permitted set, `capset` the effective/permitted/inheritable sets, raise each
//! ambient capability on its own (one the kernel refuses is skipped), set
//! no_new_privs, exec `args[0]`.

pub mod engine;
pub mod k8s;
pub mod moby;
pub mod oci;
pub mod process;
pub mod systemd;
pub mod yaml;

pub use process::{Origin, Process, Refusal, Runtime};

use crate::caps::CapSet;

/// A change to a descriptor that `--require` may suggest: add capabilities the
/// descriptor's own way, and/or turn no_new_privs off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tweak {
    pub add: CapSet,
    pub no_nnp: bool,
}

impl Tweak {
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && !self.no_nnp
    }
}
