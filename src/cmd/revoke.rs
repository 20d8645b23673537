//! `fcap revoke`: remove capabilities from every set of files.
//!
//! When nothing is left the attribute is removed entirely: an empty value (`=`) still
//! makes the file "privileged" at exec and drops ambient capabilities
//! (kernel-exec.md row 11). Revoking a capability the file lacks is not an error.

use crate::capspec;
use crate::cmd::set::{WriteFlags, write_each};
use crate::error::{Exit, quote};
use crate::filecaps::FileCaps;
use crate::write::Current;
use std::io::Write;

/// Remove capabilities from files.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "CAPS is a comma-separated list (cap_net_raw, net_raw, a number) or \
'all'. The capabilities are removed from every set; when none is left the attribute \
is removed, never left as an empty '='."
)]
pub struct RevokeArgs {
    /// Capabilities to remove, or 'all'.
    #[arg(value_name = "CAPS")]
    pub caps: String,

    #[command(flatten)]
    pub write: WriteFlags,
}

/// Run `fcap revoke`.
pub fn run(args: &RevokeArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let list = capspec::parse_revoke(&args.caps)
        .map_err(|e| capspec::with_order_hint(e, &args.caps, "revoke"))?;
    let everything = list.0 == u64::MAX;
    let what = format!(
        "revoke {}",
        crate::output::shell_word(std::path::Path::new(&args.caps))
    );
    write_each(
        &args.write,
        &what,
        out,
        |path, cur| match cur {
            Current::None => Ok(None),
            // Replacing a broken value is what `revoke all` is for.
            Current::Malformed(_) if everything => Ok(None),
            Current::Malformed(why) => anyhow::bail!(
                "{why}; revoke cannot tell what is left. Remove it: fcap revoke all {p}; or replace it: fcap set EXPR {p}",
                p = quote(path)
            ),
            Current::Caps(c) => {
                let new = FileCaps {
                    permitted: c.permitted - list,
                    inheritable: c.inheritable - list,
                    ..*c
                };
                Ok((!new.is_empty()).then_some(new))
            }
        },
        |_| {},
    )
}
