//! One module per subcommand. Each exposes its clap args struct and a
//! `run(args, out) -> Result<Exit>` that writes its normal output to `out`.

pub mod apply;
pub mod audit;
pub mod check;
pub mod effect;
pub mod explain;
pub mod grant;
pub mod inimage;
pub mod list;
pub mod read;
pub mod revoke;
pub mod run;
pub mod set;
pub mod verify;

use std::path::PathBuf;

/// Where `apply` and `check` take their manifests from.
#[derive(Debug, clap::Args)]
pub struct ManifestSources {
    /// Manifest files ('-' reads standard input).
    #[arg(value_name = "MANIFEST", required_unless_present = "system")]
    pub manifests: Vec<PathBuf>,

    /// Also use every *.caps manifest in the system directory (/etc/fcap.d); the
    /// package-manager hook runs 'fcap apply --system'.
    #[arg(long)]
    pub system: bool,

    /// The system manifest directory used by --system.
    #[arg(long, value_name = "DIR", requires = "system")]
    pub config_dir: Option<PathBuf>,
}

impl ManifestSources {
    /// The manifest files to read: those named, then (with --system) every `*.caps`
    /// file of the system directory, in name order.
    pub fn files(&self) -> anyhow::Result<Vec<PathBuf>> {
        let mut files = self.manifests.clone();
        if self.system {
            let dir = self
                .config_dir
                .as_deref()
                .unwrap_or(std::path::Path::new(crate::manifest::SYSTEM_DIR));
            files.extend(crate::manifest::system_files(dir)?);
        }
        Ok(files)
    }

    /// What was read, for the message when it held no manifest line: the named
    /// manifests, and the system directory with why it gave nothing.
    pub fn describe(&self, files: &[PathBuf]) -> String {
        let mut parts: Vec<String> = self
            .manifests
            .iter()
            .map(|m| crate::error::quote(m))
            .collect();
        if self.system {
            let dir = self
                .config_dir
                .as_deref()
                .unwrap_or(std::path::Path::new(crate::manifest::SYSTEM_DIR));
            let found = files.len() - self.manifests.len();
            parts.push(if !dir.exists() {
                format!("{} (it does not exist)", crate::error::quote(dir))
            } else if found == 0 {
                format!("{} (it holds no *.caps file)", crate::error::quote(dir))
            } else {
                format!(
                    "the {found} *.caps file{} in {}",
                    if found == 1 { "" } else { "s" },
                    crate::error::quote(dir)
                )
            });
        }
        parts.join(" and ")
    }
}
