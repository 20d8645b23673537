//! What a value just written will do when the file is executed: the warnings
//! `grant`, `set` and `apply` print (and put in `--json`) when the capabilities
//! cannot work there. The facts come from verify's own gathering
//! ([`crate::verify::facts::gather`]), so a write and `fcap verify` never disagree
//! about a script, a nosuid mount, a filesystem or the bounding set.

use crate::caps::{self, CapSet};
use crate::error::quote;
use crate::output::escape_path;
use crate::verify::model::{Kind, Xattr};
use crate::write::Change;

/// The warnings for one written (or, with `--dry-run`, would-be written) file. Empty
/// when nothing changed, so a repeated run that says `unchanged` stays quiet, and
/// when the new value grants nothing (revoke). `on_host`: the target is a host
/// file, whose mount, filesystem and kind can be looked at (not so in an image).
pub fn warnings(ch: &Change, on_host: bool) -> Vec<String> {
    let Some(after) = ch.after.filter(|_| ch.changed) else {
        return Vec::new();
    };
    let granted = after.permitted | after.inheritable;
    if granted.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let file = quote(&ch.target);
    if let Some(name) = ch.target.file_name().and_then(|n| n.to_str())
        && crate::cmd::grant::is_interpreter(name)
    {
        out.push(format!(
            "{file} is an interpreter: every script it runs (and anyone who can run it) gets {granted}; prefer a small wrapper binary or systemd's AmbientCapabilities"
        ));
    }
    if !on_host {
        return out;
    }
    // Only the file itself: what its interpreter would do is verify's question.
    let Some(node) = crate::verify::facts::gather(&ch.target).into_iter().next() else {
        return out;
    };
    if let Kind::Script { interpreter } = &node.kind {
        out.push(format!(
            "{file} is a script ('#!{}'): the kernel ignores capabilities on scripts and runs the interpreter without them; give them to a small wrapper binary, or to the process (systemd AmbientCapabilities=)",
            escape_path(interpreter)
        ));
    }
    if node.nosuid {
        let at = node
            .mount
            .as_ref()
            .map(|m| format!(" ({})", escape_path(m)))
            .unwrap_or_default();
        out.push(format!(
            "{file} is on a nosuid mount{at}: the kernel ignores its file capabilities at exec; move it to a mount without nosuid"
        ));
    }
    if matches!(node.xattr, Xattr::Unsupported) {
        out.push(format!(
            "{file} is on {}, which does not hand security.capability to exec: the capabilities do nothing there; move the file to a local filesystem (ext4, xfs, btrfs, tmpfs)",
            node.fs.as_deref().unwrap_or("a filesystem")
        ));
    }
    let outside: CapSet = CapSet(
        after
            .permitted
            .iter()
            .filter(|n| caps::in_bounding_set(*n) == Some(false))
            .fold(0u64, |acc, n| acc | 1 << n),
    );
    if after.effective && !outside.is_empty() {
        out.push(format!(
            "{outside} {} not in this machine's bounding set and the effective bit is on: executing {file} here fails with EPERM, even as root; grant {outside}=p instead if the program raises what it gets, or run it where the bounding set has {}",
            if outside.iter().count() == 1 { "is" } else { "are" },
            if outside.iter().count() == 1 { "it" } else { "them" }
        ));
    }
    out
}
