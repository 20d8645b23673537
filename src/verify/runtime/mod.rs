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

pub mod descriptor;
pub mod engine;
pub mod k8s;
pub mod moby;
pub mod oci;
pub mod process;
pub mod systemd;
pub mod yaml;

pub use process::{Origin, Process, Refusal, Runtime};

use crate::caps::CapSet;
use crate::users::User;

/// What an image (`verify --image`) tells a runtime about the container's user
/// when the descriptor leaves it out or names accounts: its config's `User` and its
/// own `/etc/passwd` and `/etc/group`, which runc resolves names and groups in.
#[derive(Clone, Debug, Default)]
pub struct ImageAccounts {
    /// The config's `User` (None: root).
    pub user: Option<String>,
    pub passwd: String,
    pub group: String,
    /// " in 'IMAGE'", for messages.
    pub place: String,
}

impl ImageAccounts {
    /// `user[:group]` as runc resolves it in the image (a number with no account
    /// is itself, with group 0 unless given).
    pub fn resolve(&self, spec: &str) -> anyhow::Result<User> {
        let mut u = crate::users::lookup_spec(spec, &self.passwd, &self.group, &self.place)?;
        if u.name.is_none() && !spec.contains(':') {
            u.gid = 0;
        }
        Ok(u)
    }

    /// The config's User, resolved; root when it sets none.
    pub fn default_user(&self) -> anyhow::Result<User> {
        self.resolve(self.user.as_deref().unwrap_or("0"))
    }

    /// How origins name the config's User.
    pub fn origin(&self) -> String {
        match &self.user {
            Some(u) => format!("the image's User '{u}'{}", self.place),
            None => format!("the image sets no User: root{}", self.place),
        }
    }
}

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

    /// The capabilities to add as descriptors spell them: `NET_BIND_SERVICE`.
    pub fn bare(&self) -> Vec<String> {
        self.add
            .iter()
            .map(|c| crate::caps::name(c)[4..].to_ascii_uppercase())
            .collect()
    }
}
