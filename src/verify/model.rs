//! The kernel's exec-time credential computation as a pure function.
//!
//! [`predict`] takes the caller's state ([`Caller`]) and the facts about the chain of
//! files the kernel opens (the named file, then each `#!` interpreter: [`Node`]) and
//! returns what `execve` does: the errno it fails with, or the new capability sets,
//! with one [`Reason`] for every capability that is lost or gained on the way.
//!
//! The steps follow Linux 6.18's `fs/exec.c` and `security/commoncap.c` in their real
//! order (shared spec kernel-exec.md §1.2): path and permission checks
//! (`do_open_execat`), the `#!` loop (`exec_binprm`, at most 5 rewrites), the set-ID
//! bits (`bprm_fill_uid`), the xattr (`get_vfs_caps_from_disk`), the
//! capability-dumb check (`bprm_caps_from_vfs_caps`), the root rules
//! (`handle_privileged_root`), the unsafe-exec downgrade, ambient and effective sets
//! (`cap_bprm_creds_from_file`). Nothing here touches the system, so every rule is
//! unit-tested on its own.

use crate::caps::{self, CapSet};
use crate::filecaps::FileCaps;
use std::path::PathBuf;

pub use crate::caps::{CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_SETUID};

/// The kernel rewrites the file at most this many times (`#!`, binfmt_misc) before
/// `exec_binprm` gives up with ELOOP.
pub const MAX_REWRITES: usize = 5;

/// Who calls `execve`: everything in `struct cred` that the result depends on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub uid: u32,
    pub euid: u32,
    pub gid: u32,
    pub egid: u32,
    /// The fs uid: exec's permission checks compare the file's owner with it, not
    /// with the euid (they differ after setfsuid, e.g. in a file server).
    pub fsuid: u32,
    /// The fs gid (`in_group_p` compares against it and the supplementary groups).
    pub fsgid: u32,
    pub groups: Vec<u32>,
    pub inheritable: CapSet,
    pub permitted: CapSet,
    pub effective: CapSet,
    pub ambient: CapSet,
    pub bounding: CapSet,
    /// SECBIT_NOROOT: no special treatment for uid 0.
    pub noroot: bool,
    pub no_new_privs: bool,
    /// Ptraced by a tracer that lacks CAP_SYS_PTRACE (`LSM_UNSAFE_PTRACE` without
    /// `ptracer_capable`).
    pub untrusted_tracer: bool,
    /// The fs_struct is shared with another process (`LSM_UNSAFE_SHARE`).
    pub shared_fs: bool,
    /// The caller's user namespace, when it is not verify's own (None: the same).
    pub userns: Option<UserNs>,
    /// verify's own user namespace when it is not the initial one and the caller
    /// shares it (verify run inside a container or `unshare --user`).
    pub own_ns: Option<OwnNs>,
}

/// verify's own user namespace seen from inside: which ids its `uid_map` and
/// `gid_map` map (inside, parent's, count), and the overflow ids `stat` shows for an
/// owner with no mapping here (`/proc/sys/kernel/overflowuid`, 65534).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnNs {
    pub uid_map: Vec<[u32; 3]>,
    pub gid_map: Vec<[u32; 3]>,
    pub overflow_uid: u32,
    pub overflow_gid: u32,
}

impl OwnNs {
    /// Whether an owner `stat` showed as `id` has a mapping here: any id but the
    /// overflow one does; the overflow id does not when the map leaves it out, and
    /// cannot be told apart from a mapped one when the map covers it (None).
    fn mapped(map: &[[u32; 3]], overflow: u32, id: u32) -> Option<bool> {
        if id != overflow {
            Some(true)
        } else if UserNs::outside(map, id).is_some() {
            None
        } else {
            Some(false)
        }
    }

    pub fn maps(&self, ino: &Inode) -> Option<bool> {
        match (
            Self::mapped(&self.uid_map, self.overflow_uid, ino.uid),
            Self::mapped(&self.gid_map, self.overflow_gid, ino.gid),
        ) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        }
    }

    /// The parent namespace's uid for `uid` of this one.
    pub fn parent_uid(&self, uid: u32) -> Option<u32> {
        UserNs::outside(&self.uid_map, uid)
    }
}

/// A user namespace as its `uid_map` and `gid_map` show it to verify: lines of
/// (first id inside, first id here, count). Every uid and gid elsewhere in the model
/// is as seen here (the kernel's kuid, when verify runs in the initial namespace).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserNs {
    pub uid_map: Vec<[u32; 3]>,
    pub gid_map: Vec<[u32; 3]>,
    /// The namespace's parent is not verify's own (nested namespaces): the roots of
    /// the namespaces in between are not known here.
    pub nested: bool,
}

impl UserNs {
    /// The id inside the namespace for `id` here (`from_kuid`), if mapped.
    pub fn inside(map: &[[u32; 3]], id: u32) -> Option<u32> {
        map.iter()
            .find(|[_, out, n]| id >= *out && u64::from(id) < u64::from(*out) + u64::from(*n))
            .and_then(|[inside, out, _]| inside.checked_add(id - out))
    }

    /// The id here for `id` inside the namespace (`make_kuid`), if mapped.
    pub fn outside(map: &[[u32; 3]], id: u32) -> Option<u32> {
        map.iter()
            .find(|[inside, _, n]| {
                id >= *inside && u64::from(id) < u64::from(*inside) + u64::from(*n)
            })
            .and_then(|[inside, out, _]| out.checked_add(id - inside))
    }
}

/// `INVALID_UID`: no process has it, so it stands for "no root" in comparisons.
const NO_UID: u32 = u32::MAX;

impl Caller {
    /// The ids permission checks use, for messages: the fs ids, which the kernel
    /// compares with a file's owner, named as such when they differ from the
    /// effective ones (after setfsuid/setfsgid).
    pub fn ids(&self) -> String {
        let uid = if self.fsuid == self.euid {
            format!("uid {}", self.euid)
        } else {
            format!("uid {}, fs uid {}", self.euid, self.fsuid)
        };
        let gid = if self.fsgid == self.egid {
            format!("gid {}", self.egid)
        } else {
            format!("gid {}, fs gid {}", self.egid, self.fsgid)
        };
        format!("{uid}, {gid}")
    }

    /// `in_group_p`: the fs gid or a supplementary group.
    pub fn in_group(&self, gid: u32) -> bool {
        gid == self.fsgid || self.groups.contains(&gid)
    }

    /// The uid (as seen here) that the exec rules treat as root: uid 0 of the caller's
    /// user namespace (`make_kuid(user_ns, 0)`), or None when that namespace maps no
    /// uid 0.
    pub fn root_uid(&self) -> Option<u32> {
        match &self.userns {
            None => Some(0),
            Some(ns) => UserNs::outside(&ns.uid_map, 0),
        }
    }

    /// Whether the inode's owner and group both have ids in the caller's user
    /// namespace: set-ID bits (`bprm_fill_uid`) and the DAC override capabilities
    /// (`privileged_wrt_inode_uidgid`) count only then.
    /// None: verify runs in the caller's namespace, where an unmapped owner shows
    /// as the overflow id, and the namespace maps that id too: fcap cannot tell.
    pub fn maps_owner(&self, ino: &Inode) -> Option<bool> {
        match (&self.userns, &self.own_ns) {
            (Some(ns), _) => Some(
                UserNs::inside(&ns.uid_map, ino.uid).is_some()
                    && UserNs::inside(&ns.gid_map, ino.gid).is_some(),
            ),
            (None, Some(own)) => own.maps(ino),
            (None, None) => Some(true),
        }
    }

    /// `rootid_owns_currentns`: a v3 value with this rootid (a uid here) applies when
    /// the rootid is uid 0 in the caller's namespace or an ancestor; verify's own
    /// namespace is taken as the initial one, whose root is uid 0.
    ///
    /// Inside a namespace (verify's own), getxattr shows a value whose rootid is the
    /// root of an ancestor as v3 with that root's id here when the id is mapped here:
    /// the value applies when that id is the parent namespace's root.
    pub fn owns_rootid(&self, rootid: u32) -> bool {
        rootid == 0
            || self
                .userns
                .as_ref()
                .is_some_and(|ns| UserNs::inside(&ns.uid_map, rootid) == Some(0))
            || (self.userns.is_none()
                && self
                    .own_ns
                    .as_ref()
                    .is_some_and(|ns| ns.parent_uid(rootid) == Some(0)))
    }
}

/// Owner and mode of an inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inode {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

pub const S_IFMT: u32 = 0o170_000;
pub const S_IFREG: u32 = 0o100_000;
pub const S_IFDIR: u32 = 0o040_000;
pub const S_ISUID: u32 = 0o4000;
pub const S_ISGID: u32 = 0o2000;
pub const S_IXGRP: u32 = 0o010;

/// What the first bytes of a file make of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An ELF image: the end of the chain.
    Elf,
    /// `#!interpreter`: the kernel continues with the interpreter.
    Script { interpreter: PathBuf },
    /// `#!` with no interpreter name, or no known format: ENOEXEC.
    Unknown,
    /// A short file of `#!` and blanks only, no newline: the kernel answers EACCES.
    NoInterpreter,
    /// verify could not read the first bytes (an executable it may not read, such as
    /// mode 0711): the kernel can, so the format, and the answer, are unknown.
    Unreadable,
}

/// The `security.capability` attribute as far as `getxattr` lets us see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Xattr {
    /// ENODATA: no file capabilities.
    Absent,
    /// The filesystem does not serve the attribute (EOPNOTSUPP: NFS, vfat…).
    Unsupported,
    /// A value read back from the kernel (already translated for our user namespace).
    Value(Vec<u8>),
    /// `getxattr` refused the value as malformed (EINVAL): exec fails the same way.
    Malformed,
    /// EOVERFLOW: a v3 value whose namespace root has no uid here; ignored at exec.
    ForeignNamespace,
    /// Any other read error: exec fails with this errno.
    ReadError(i32),
}

/// What the ELF loader (`load_elf_binary`) makes of a program before the
/// credentials are computed: everything it refuses, it refuses first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ElfCheck {
    /// Not examined: not an ELF program, or its content was out of reach.
    None,
    /// Loadable, with no program loader (a static program), or a loader whose header
    /// passed.
    Static,
    /// Refused whoever runs it: ENOEXEC (another machine, not an executable, bad
    /// program headers), EIO (cut short), or for a program loader ELIBBAD.
    Refused { errno: i32, why: String },
    /// An ELF for another machine while binfmt_misc has handlers (an emulator may
    /// run it): the outcome is not the ELF loader's to decide.
    Foreign { machine: u16 },
    /// PT_INTERP names this program loader, which the kernel opens like an
    /// executable (search and exec permission, not on a noexec mount) and reads.
    Loader(Box<Node>),
}

/// One file the kernel opens on the way: the named file, then each interpreter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// The path as given (by the user, or in the `#!` line).
    pub path: PathBuf,
    /// The absolute path with every symlink resolved (when it resolves).
    pub resolved: Option<PathBuf>,
    /// The path names a symlink (or passes through one): `resolved` is its target.
    pub symlink: bool,
    /// None: the path does not resolve (`lookup_errno`, ENOENT when unset).
    pub inode: Option<Inode>,
    pub lookup_errno: Option<i32>,
    /// Every directory the lookup passes through (search permission needed).
    pub dirs: Vec<(PathBuf, Inode)>,
    pub noexec: bool,
    pub nosuid: bool,
    /// The mount point, for messages.
    pub mount: Option<PathBuf>,
    /// Filesystem name, for messages ("NFS", "tmpfs"…).
    pub fs: Option<String>,
    pub kind: Kind,
    pub xattr: Xattr,
    /// For an ELF program: what the ELF loader finds (for a program loader itself:
    /// whether its header passes).
    pub elf: ElfCheck,
    /// Some process has the file open for writing: the kernel refuses to execute it
    /// (ETXTBSY, `exe_file_deny_write_access`). Only `fcap verify` looks.
    pub open_for_writing: bool,
}

impl Node {
    /// The file as messages name it: resolved when it could be, escaped.
    pub fn shown(&self) -> String {
        crate::output::escape_path(self.resolved.as_ref().unwrap_or(&self.path))
    }

    /// Where a symlink named as this node leads, if it was one.
    pub fn symlink_target(&self) -> Option<&PathBuf> {
        self.resolved.as_ref().filter(|_| self.symlink)
    }
}

/// How `execve` ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Fail(i32),
    /// fcap cannot see what decides the exec (a value getxattr hides): the kernel may
    /// grant capabilities or fail; the reasons say which and why.
    Unknown,
}

impl Outcome {
    /// `"ok"`, `"eperm"`, `"einval"`… for JSON.
    pub fn code(self) -> String {
        match self {
            Outcome::Ok => "ok".to_string(),
            Outcome::Fail(e) => crate::error::errno_name(e).to_lowercase(),
            Outcome::Unknown => "unknown".to_string(),
        }
    }
}

/// One explanation line. `code` is stable (for JSON consumers); `cap` names the
/// capability it is about, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reason {
    pub code: &'static str,
    pub cap: Option<u32>,
    pub message: String,
}

/// Everything `verify` reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prediction {
    pub outcome: Outcome,
    pub permitted: CapSet,
    pub effective: CapSet,
    pub inheritable: CapSet,
    pub ambient: CapSet,
    pub bounding: CapSet,
    pub uid: u32,
    pub euid: u32,
    pub gid: u32,
    pub egid: u32,
    /// AT_SECURE in the new program's auxiliary vector.
    pub secure_exec: bool,
    /// Index in the chain of the file whose credentials count (the last one reached).
    pub final_node: usize,
    /// The decoded file capabilities of that file, when they were read and applied.
    pub file_caps: Option<FileCaps>,
    pub reasons: Vec<Reason>,
    pub hints: Vec<String>,
}

impl Prediction {
    /// The answer when no program is exec'd (the exec fails, fcap cannot tell, or a
    /// runtime refuses the process section first): no new program holds anything, and
    /// the ids and bounding set stay the caller's.
    pub fn unexecuted(c: &Caller, outcome: Outcome, reasons: Vec<Reason>) -> Prediction {
        Prediction {
            outcome,
            permitted: CapSet::EMPTY,
            effective: CapSet::EMPTY,
            inheritable: CapSet::EMPTY,
            ambient: CapSet::EMPTY,
            bounding: c.bounding,
            uid: c.uid,
            euid: c.euid,
            gid: c.gid,
            egid: c.egid,
            secure_exec: false,
            final_node: 0,
            file_caps: None,
            reasons,
            hints: Vec::new(),
        }
    }
}

struct Out {
    reasons: Vec<Reason>,
    hints: Vec<String>,
}

impl Out {
    fn why(&mut self, code: &'static str, cap: Option<u32>, message: String) {
        self.reasons.push(Reason { code, cap, message });
    }
    fn hint(&mut self, h: String) {
        if !self.hints.contains(&h) {
            self.hints.push(h);
        }
    }
}

fn n(c: u32) -> String {
    caps::name(c)
}

fn list(s: CapSet) -> String {
    if s.is_empty() {
        "none".to_string()
    } else {
        s.names().join(",")
    }
}

/// `generic_permission` for MAY_EXEC on a regular file, or search on a directory,
/// with the DAC override capabilities (`capable_wrt_inode_uidgid`).
fn may_exec(c: &Caller, ino: &Inode, dir: bool) -> Option<bool> {
    let bits = if c.fsuid == ino.uid {
        ino.mode >> 6
    } else if c.in_group(ino.gid) {
        ino.mode >> 3
    } else {
        ino.mode
    };
    if bits & 1 != 0 {
        return Some(true);
    }
    let capable = if dir {
        c.effective.has(CAP_DAC_OVERRIDE) || c.effective.has(CAP_DAC_READ_SEARCH)
    } else {
        // CAP_DAC_OVERRIDE grants exec only when some execute bit is set.
        c.effective.has(CAP_DAC_OVERRIDE) && ino.mode & 0o111 != 0
    };
    if !capable {
        return Some(false);
    }
    // The capabilities count only over an inode whose owner and group are mapped in
    // the caller's user namespace (capable_wrt_inode_uidgid).
    c.maps_owner(ino)
}

/// Why fcap cannot answer for an inode whose owner shows as the overflow id.
fn overflow_owner(what: &str, ino: &Inode, o: &mut Out) {
    o.why(
        "owner-unknown",
        None,
        format!(
            "{what} shows owner {}:{}, the id every owner unmapped in this user namespace shows as, and the namespace also maps that id: fcap cannot tell whether the caller's capabilities (or the set-ID bits) apply to it",
            ino.uid, ino.gid
        ),
    );
}

fn fail(
    c: &Caller,
    errno: i32,
    node: usize,
    mut o: Out,
    file_caps: Option<FileCaps>,
) -> Prediction {
    o.why(
        "exec-fails",
        None,
        format!(
            "execve fails with {} ({}); the caller keeps running with its own capabilities",
            crate::error::errno_name(errno),
            crate::error::strerror(&std::io::Error::from_raw_os_error(errno))
        ),
    );
    let mut p = Prediction::unexecuted(c, Outcome::Fail(errno), o.reasons);
    p.final_node = node;
    p.file_caps = file_caps;
    p.hints = o.hints;
    p
}

/// Not an errno: `open_chain`'s way to say that a fact it needs is out of sight.
const UNKNOWN: i32 = 0;

/// The prediction when fcap cannot see what decides the exec: nothing is granted
/// as far as fcap can tell, and the outcome says "unknown", never a guess.
fn unknown(c: &Caller, node: usize, o: Out) -> Prediction {
    let mut p = fail(c, libc::EINVAL, node, o, None);
    p.outcome = Outcome::Unknown;
    p.reasons.retain(|r| r.code != "exec-fails");
    p
}

/// The open checks `do_open_execat` makes on a file, with the caller's credentials:
/// it exists, every directory on the way is searchable, it is a regular file, not on
/// a noexec mount, and the caller may execute it. `what` names it in reasons.
fn may_open_exec(c: &Caller, node: &Node, what: &str, o: &mut Out) -> Result<Inode, i32> {
    let Some(ino) = node.inode else {
        let errno = node.lookup_errno.unwrap_or(libc::ENOENT);
        o.why(
            "not-found",
            None,
            format!(
                "{what} '{}' cannot be opened: {}",
                node.shown(),
                crate::error::strerror(&std::io::Error::from_raw_os_error(errno))
            ),
        );
        return Err(errno);
    };
    for (d, dino) in &node.dirs {
        let searchable = may_exec(c, dino, true);
        if searchable.is_none() {
            overflow_owner(
                &format!("directory '{}'", crate::output::escape_path(d)),
                dino,
                o,
            );
            return Err(UNKNOWN);
        }
        if dino.mode & S_IFMT == S_IFDIR && searchable == Some(false) {
            o.why(
                "no-search-permission",
                None,
                format!(
                    "the caller ({}) may not search directory '{}' (mode {:04o}, owner {}:{})",
                    c.ids(),
                    crate::output::escape_path(d),
                    dino.mode & 0o7777,
                    dino.uid,
                    dino.gid
                ),
            );
            return Err(libc::EACCES);
        }
    }
    if ino.mode & S_IFMT != S_IFREG {
        o.why(
            "not-regular",
            None,
            format!("{what} '{}' is not a regular file", node.shown()),
        );
        return Err(libc::EACCES);
    }
    if node.noexec {
        o.why(
            "noexec",
            None,
            format!(
                "{what} '{}' is on a noexec mount{}",
                node.shown(),
                node.mount
                    .as_ref()
                    .map(|m| format!(" ({})", crate::output::escape_path(m)))
                    .unwrap_or_default()
            ),
        );
        return Err(libc::EACCES);
    }
    let executable = may_exec(c, &ino, false);
    if executable.is_none() {
        overflow_owner(&format!("{what} '{}'", node.shown()), &ino, o);
        return Err(UNKNOWN);
    }
    if executable == Some(false) {
        o.why(
            "no-exec-permission",
            None,
            format!(
                "the caller ({}) may not execute '{}' (mode {:04o}, owner {}:{})",
                c.ids(),
                node.shown(),
                ino.mode & 0o7777,
                ino.uid,
                ino.gid
            ),
        );
        return Err(libc::EACCES);
    }
    if node.open_for_writing {
        o.why(
            "text-busy",
            None,
            format!(
                "{what} '{}' is open for writing by a process: the kernel refuses to execute a file while it can change",
                node.shown()
            ),
        );
        return Err(libc::ETXTBSY);
    }
    Ok(ino)
}

/// `load_elf_binary` up to `begin_new_exec`: the header and program headers, then the
/// program loader (PT_INTERP), opened with the caller's credentials and checked.
/// Every failure here comes before the credentials are computed.
fn elf_load(c: &Caller, node: &Node, o: &mut Out) -> Result<(), i32> {
    match &node.elf {
        ElfCheck::None | ElfCheck::Static => Ok(()),
        ElfCheck::Refused { errno, why } => {
            o.why("elf-refused", None, format!("'{}' is {why}", node.shown()));
            Err(*errno)
        }
        ElfCheck::Foreign { machine } => {
            o.why(
                "elf-foreign",
                None,
                format!(
                    "'{}' is an ELF program for another machine (e_machine {machine}); binfmt_misc has handlers registered, and one of them (an emulator) may run it",
                    node.shown()
                ),
            );
            Err(UNKNOWN)
        }
        ElfCheck::Loader(l) => {
            may_open_exec(c, l, "the program loader (PT_INTERP)", o).inspect_err(|e| {
                if *e == libc::ENOENT {
                    o.hint(format!(
                        "'{}' needs the program loader '{}', which this system lacks (a binary built for another C library, such as musl on a glibc system): install it, or use a static build",
                        node.shown(),
                        l.shown()
                    ));
                }
            })?;
            match &l.elf {
                ElfCheck::Refused { errno, why } => {
                    o.why(
                        "elf-loader-refused",
                        None,
                        format!("the program loader '{}': {why}", l.shown()),
                    );
                    Err(*errno)
                }
                _ if l.kind == Kind::Unreadable => {
                    o.why(
                        "unreadable-content",
                        None,
                        format!(
                            "fcap may not read the program loader '{}' (the kernel may), so it cannot tell whether the kernel accepts it",
                            l.shown()
                        ),
                    );
                    Err(UNKNOWN)
                }
                _ => Ok(()),
            }
        }
    }
}

/// Walk the chain the way `do_open_execat` and `exec_binprm` do. Returns the index of
/// the file whose credentials count, or the errno and the node it failed at.
fn open_chain(c: &Caller, chain: &[Node], o: &mut Out) -> Result<usize, (i32, usize)> {
    for (i, node) in chain.iter().enumerate() {
        let what = if i == 0 {
            "the file"
        } else {
            "the interpreter"
        };
        let ino = may_open_exec(c, node, what, o).map_err(|e| (e, i))?;
        match &node.kind {
            Kind::Elf => return elf_load(c, node, o).map(|()| i).map_err(|e| (e, i)),
            Kind::Unreadable => {
                o.why(
                    "unreadable-content",
                    None,
                    format!(
                        "fcap may not read '{}' (the kernel may): it cannot tell an ELF program, whose file capabilities would count, from a '#!' script, whose would not; run verify as root, or as a user who may read the file",
                        node.shown()
                    ),
                );
                return Err((UNKNOWN, i));
            }
            Kind::NoInterpreter => {
                o.why(
                    "no-interpreter",
                    None,
                    format!(
                        "'{}' holds only '#!' (and blanks), with no interpreter name and no newline: the kernel refuses it",
                        node.shown()
                    ),
                );
                return Err((libc::EACCES, i));
            }
            Kind::Unknown => {
                o.why(
                    "not-executable-format",
                    None,
                    format!(
                        "'{}' is neither an ELF program nor a '#!' script (a shell may still run it as a script, in a new exec of the shell)",
                        node.shown()
                    ),
                );
                return Err((libc::ENOEXEC, i));
            }
            Kind::Script { interpreter } => {
                if i >= MAX_REWRITES {
                    // The script handler opens the interpreter before the loop
                    // counts one more level: a missing one is ENOENT, not ELOOP.
                    if let Some(next) = chain.get(i + 1) {
                        may_open_exec(c, next, "the interpreter", o).map_err(|e| (e, i + 1))?;
                    }
                    o.why(
                        "interpreter-loop",
                        None,
                        format!(
                            "more than {MAX_REWRITES} levels of '#!' interpreters; the kernel gives up"
                        ),
                    );
                    return Err((libc::ELOOP, i));
                }
                let has_caps = matches!(node.xattr, Xattr::Value(_) | Xattr::Malformed);
                let setid = ino.mode & (S_ISUID | S_ISGID) != 0;
                let mut ignored = Vec::new();
                if has_caps {
                    ignored.push("file capabilities");
                }
                if setid {
                    ignored.push("set-ID bits");
                }
                o.why(
                    "script",
                    None,
                    format!(
                        "'{}' is a script: the kernel runs its interpreter '{}'{}; only the final program's capabilities and set-ID bits count",
                        node.shown(),
                        crate::output::escape_path(interpreter),
                        if ignored.is_empty() {
                            String::new()
                        } else {
                            format!(", and ignores the script's own {}", ignored.join(" and "))
                        }
                    ),
                );
                if has_caps || setid {
                    o.hint("capabilities on a script do nothing: put them on the interpreter (then every script it runs gets them), or start the script with the capabilities in its ambient set (systemd AmbientCapabilities=, setpriv --ambient-caps)".to_string());
                }
                if chain.get(i + 1).is_none() {
                    // The facts stop only at the kernel's depth limit.
                    o.why(
                        "interpreter-loop",
                        None,
                        format!(
                            "more than {MAX_REWRITES} levels of '#!' interpreters; the kernel gives up"
                        ),
                    );
                    return Err((libc::ELOOP, i + 1));
                }
            }
        }
    }
    Err((libc::ENOENT, chain.len()))
}

/// Predict `execve(chain[0])` by `c`.
pub fn predict(c: &Caller, chain: &[Node]) -> Prediction {
    let mut o = Out {
        reasons: Vec::new(),
        hints: Vec::new(),
    };
    let fi = match open_chain(c, chain, &mut o) {
        Ok(i) => i,
        Err((UNKNOWN, i)) => return unknown(c, i, o),
        Err((errno, i)) => return fail(c, errno, i, o, None),
    };
    let node = &chain[fi];
    let Some(ino) = node.inode else {
        return fail(c, libc::ENOENT, fi, o, None);
    };
    if fi > 0 && node.path.file_name().is_some_and(|f| f == "env") {
        o.why(
            "env-interpreter",
            None,
            format!(
                "the interpreter is '{}': it starts the real program with a second execve, which gets its capabilities from that program's own file; verify that program too",
                node.shown()
            ),
        );
    }
    let valid = CapSet::all();
    let x = c.bounding;
    let root = c.root_uid().unwrap_or(NO_UID);

    // mnt_may_suid: a nosuid mount hides set-ID bits and file capabilities alike.
    let suid_ok = !node.nosuid;
    let file_has_something = !matches!(node.xattr, Xattr::Absent | Xattr::Unsupported)
        || ino.mode & (S_ISUID | S_ISGID) != 0;
    if !suid_ok && file_has_something {
        o.why(
            "nosuid",
            None,
            format!(
                "'{}' is on a nosuid mount{}: its set-ID bits and file capabilities are not even read (ambient capabilities pass through)",
                node.shown(),
                node.mount
                    .as_ref()
                    .map(|m| format!(" ({})", crate::output::escape_path(m)))
                    .unwrap_or_default()
            ),
        );
        o.hint("move the program to a mount without nosuid, or give the process the capabilities directly (systemd AmbientCapabilities=, setpriv --ambient-caps)".to_string());
    }

    // Step 1: set-ID bits (bprm_fill_uid).
    let mut euid = c.euid;
    let mut egid = c.egid;
    let setuid = ino.mode & S_ISUID != 0;
    let setgid = ino.mode & S_ISGID != 0 && ino.mode & S_IXGRP != 0;
    if suid_ok && (setuid || setgid) && c.maps_owner(&ino).is_none() {
        overflow_owner(&format!("'{}'", node.shown()), &ino, &mut o);
        return unknown(c, fi, o);
    }
    if suid_ok && (setuid || setgid) && c.maps_owner(&ino) == Some(false) {
        o.why(
            "setid-unmapped",
            None,
            format!(
                "the file's owner {}:{} is not mapped in the caller's user namespace: the kernel ignores its set-user/group-ID bits",
                ino.uid, ino.gid
            ),
        );
    } else if suid_ok && (setuid || setgid) {
        if c.no_new_privs {
            o.why(
                "setid-ignored",
                None,
                "no_new_privs: the set-user/group-ID bits are ignored".to_string(),
            );
        } else {
            if setuid {
                euid = ino.uid;
            }
            if setgid {
                egid = ino.gid;
            }
        }
    }

    // Step 2: read the attribute (get_file_caps).
    let mut fcaps: Option<FileCaps> = None;
    if suid_ok {
        match &node.xattr {
            Xattr::Absent => {}
            Xattr::Unsupported => o.why(
                "fs-no-file-caps",
                None,
                format!(
                    "{} does not serve security.capability: file capabilities never apply there",
                    node.fs.as_deref().unwrap_or("this filesystem")
                ),
            ),
            Xattr::Malformed => {
                // getxattr answers EINVAL both for values exec refuses (empty, a bad
                // size, an unknown revision) and for values exec honours but will not
                // hand out (a v1 value, v2/v3 with extra flag bits: measured, they
                // grant their capabilities). fcap cannot tell which: say so.
                o.why(
                    "hidden-xattr",
                    None,
                    "the kernel will not return this security.capability value (getxattr: EINVAL), so fcap cannot see it: a v1 value or one with unknown flag bits still grants its capabilities at exec, while an empty, short or unknown-revision value makes the exec fail (EINVAL, or ERANGE if longer than 24 bytes)".to_string(),
                );
                o.hint(rewrite_hint(node));
                return unknown(c, fi, o);
            }
            Xattr::ReadError(e) => {
                o.why(
                    "xattr-unreadable",
                    None,
                    "reading security.capability fails, and execve fails with the same error"
                        .to_string(),
                );
                return fail(c, *e, fi, o, None);
            }
            Xattr::ForeignNamespace => o.why(
                "foreign-rootid",
                None,
                "the value is a namespaced (v3) one for a user namespace whose root has no uid here; the kernel silently ignores it".to_string(),
            ),
            Xattr::Value(bytes) => match FileCaps::decode(bytes) {
                Err(e) => {
                    let errno = e.exec_errno();
                    o.why("malformed-xattr", None, e.to_string());
                    o.hint(rewrite_hint(node));
                    return fail(c, errno, fi, o, None);
                }
                // A v3 value shows a non-zero rootid only when that uid is not the
                // root of our user namespace or an ancestor (cap_inode_getsecurity
                // hands matching values back as v2).
                Ok(fc) if fc.rootid.is_some_and(|r| !c.owns_rootid(r)) => o.why(
                    "foreign-rootid",
                    None,
                    format!(
                        "the value is namespaced (v3) with rootid {}: it applies only inside a user namespace whose root is uid {}, not to this caller; the kernel silently ignores it",
                        fc.rootid.unwrap_or(0),
                        fc.rootid.unwrap_or(0)
                    ),
                ),
                Ok(mut fc) => {
                    if let Some(r) = fc.rootid.filter(|r| *r != 0) {
                        o.why(
                            "namespace-rootid",
                            None,
                            format!(
                                "the value is namespaced (v3) with rootid {r}, which is uid 0 of the caller's user namespace or of its parent: it applies"
                            ),
                        );
                    }
                    fc.permitted = fc.permitted & valid;
                    fc.inheritable = fc.inheritable & valid;
                    fcaps = Some(fc);
                }
            },
        }
    }
    let has_fcap = fcaps.is_some();
    let (fp, fi_set, mut fe) = match &fcaps {
        Some(f) => (f.permitted, f.inheritable, f.effective),
        None => (CapSet::EMPTY, CapSet::EMPTY, false),
    };

    // Step 3: the file's part, and the capability-dumb check.
    let mut pp = (x & fp) | (c.inheritable & fi_set);
    if has_fcap {
        let missing = fp - pp;
        if fe && !missing.is_empty() {
            for cap in missing.iter() {
                o.why(
                    "bounding-eperm",
                    Some(cap),
                    format!(
                        "{} is in the file's permitted set with the effective bit on, but not in the caller's bounding set (nor supplied by its inheritable set): the kernel refuses the exec rather than start a program without a capability it expects",
                        n(cap)
                    ),
                );
            }
            o.hint(format!(
                "clear only the effective bit so the exec succeeds without {} (fcap set '{}' {}, like setcap); a capability-aware program then raises what it got",
                list(missing),
                FileCaps {
                    effective: false,
                    ..fcaps.unwrap_or(FileCaps::EMPTY)
                }
                .to_text(),
                shell_path(node)
            ));
            o.hint(format!(
                "or keep {} in the bounding set (docker run --cap-add, Kubernetes securityContext.capabilities.add, systemd CapabilityBoundingSet=)",
                list(missing)
            ));
            return fail(c, libc::EPERM, fi, o, fcaps);
        }
        for cap in fp.iter() {
            if !x.has(cap) && !pp.has(cap) {
                o.why(
                    "bounding",
                    Some(cap),
                    format!(
                        "{} is in the file's permitted set but not in the caller's bounding set: not granted (no error, because the effective bit is off)",
                        n(cap)
                    ),
                );
            } else if !x.has(cap) {
                o.why(
                    "inheritable",
                    Some(cap),
                    format!(
                        "{} is not in the bounding set, but the file's and the caller's inheritable sets both have it",
                        n(cap)
                    ),
                );
            }
        }
        for cap in (fi_set - fp).iter() {
            if c.inheritable.has(cap) {
                o.why(
                    "inheritable",
                    Some(cap),
                    format!(
                        "{} comes from the file's inheritable set, matched by the caller's inheritable set",
                        n(cap)
                    ),
                );
            } else {
                o.why(
                    "not-inheritable",
                    Some(cap),
                    format!(
                        "{} is only in the file's inheritable set, and the caller's inheritable set lacks it: not granted",
                        n(cap)
                    ),
                );
            }
        }
    }

    // Step 4: the root rules (handle_privileged_root).
    let mut root_rule = false;
    if c.uid == root || euid == root {
        if c.noroot {
            o.why(
                "noroot",
                None,
                "SECBIT_NOROOT is set: uid 0 gets no capabilities for being root, only what the file's capabilities give".to_string(),
            );
        } else if has_fcap && c.uid != root && euid == root {
            o.why(
                "setuid-root-fcaps",
                None,
                "the file is setuid-root and also has file capabilities: the kernel uses the file capabilities as they are and does not raise all capabilities for root".to_string(),
            );
        } else {
            pp = x | c.inheritable;
            root_rule = true;
            if euid == root {
                fe = true;
            }
            let who = if c.euid == root && c.uid == root && c.userns.is_some() {
                format!("the caller is root of its user namespace (uid {root} here)")
            } else if c.euid == root && c.uid == root {
                "the caller is root".to_string()
            } else if euid == root && c.euid != root {
                "the file is setuid-root".to_string()
            } else if c.uid == root {
                "the caller's real uid is root".to_string()
            } else {
                "the effective uid is root".to_string()
            };
            o.why(
                "root",
                None,
                format!(
                    "{who}: permitted = bounding ∪ inheritable ({}), the file's own sets do not matter{}",
                    if (x | c.inheritable) == CapSet::all() { "all".to_string() } else { format!("{} capabilities", (x | c.inheritable).iter().count()) },
                    if euid == root { ", and all of them are effective" } else { "; effective only if the file has the effective bit" }
                ),
            );
            for cap in (CapSet::all() - x - c.inheritable).iter() {
                o.why(
                    "bounding",
                    Some(cap),
                    format!(
                        "{} is not in the caller's bounding set, so even root does not get it",
                        n(cap)
                    ),
                );
            }
        }
    }

    // Step 5: no_new_privs, ptrace, shared fs (the unsafe-exec downgrade).
    let id_changed = euid != c.euid || !c.in_group(egid);
    let unsafe_exec = c.no_new_privs || c.shared_fs || c.untrusted_tracer;
    if unsafe_exec && (id_changed || !(pp - c.permitted).is_empty()) {
        let (code, what) = if c.no_new_privs {
            ("no-new-privs", "no_new_privs")
        } else if c.shared_fs {
            ("shared-fs", "a shared fs_struct (CLONE_FS)")
        } else {
            ("ptrace", "a tracer without CAP_SYS_PTRACE")
        };
        if !c.effective.has(CAP_SETUID) || c.no_new_privs {
            if euid != c.uid || egid != c.gid {
                o.why(
                    code,
                    None,
                    format!("{what}: the effective uid/gid fall back to the real ones"),
                );
            }
            euid = c.uid;
            egid = c.gid;
        }
        for cap in (pp - c.permitted).iter() {
            o.why(
                code,
                Some(cap),
                format!(
                    "{} would be gained, but {what} limits the new permitted set to the caller's current permitted set, which lacks it",
                    n(cap)
                ),
            );
        }
        pp = pp & c.permitted;
        if c.no_new_privs {
            o.hint("no_new_privs comes from Kubernetes allowPrivilegeEscalation: false, docker --security-opt no-new-privileges, or systemd NoNewPrivileges=: set allowPrivilegeEscalation: true, or hand the capabilities to the process instead (systemd AmbientCapabilities=), which no_new_privs does not block".to_string());
        }
    }

    // Step 6: ambient.
    let pa = if has_fcap || id_changed {
        CapSet::EMPTY
    } else {
        c.ambient
    };
    for cap in (c.ambient - pa).iter() {
        o.why(
            "ambient-cleared",
            Some(cap),
            format!(
                "{} is dropped from the ambient set because {}",
                n(cap),
                if has_fcap {
                    "the file has file capabilities (any valid value, even an empty one, clears ambient)"
                } else {
                    "the set-ID bits change the process's ids"
                }
            ),
        );
    }
    if has_fcap && !c.ambient.is_empty() {
        o.hint(format!("ambient capabilities do not survive executing a file that has file capabilities: remove the file's capabilities (fcap revoke all {}) to let the ambient set through", shell_path(node)));
    }
    for cap in pa.iter() {
        o.why(
            "ambient",
            Some(cap),
            format!("{} is kept from the caller's ambient set", n(cap)),
        );
    }
    let file_part = pp;
    pp = pp | pa;

    // Step 7: effective.
    let pe = if fe { pp } else { pa };

    // Report what the file granted and what stays dormant.
    if !root_rule {
        for cap in (file_part & fp).iter() {
            o.why(
                "file",
                Some(cap),
                format!("{} is granted by the file's permitted set", n(cap)),
            );
        }
    }
    // Capabilities the caller held that do not survive (ambient ones are explained
    // above, root's under the root rules).
    if !(c.noroot && (c.uid == root || c.euid == root)) {
        for cap in (c.permitted - pp - c.ambient).iter() {
            o.why(
                "caller-lost",
                Some(cap),
                format!(
                    "{} is in the caller's permitted set but is not passed on: an exec keeps only ambient capabilities, what the file grants, and for root the bounding and inheritable sets",
                    n(cap)
                ),
            );
        }
    }
    let dormant = pp - pe;
    if !dormant.is_empty() {
        o.why(
            "not-effective",
            None,
            format!(
                "{} permitted but not effective: the file has no effective bit, so the program must raise {} itself (capability-aware programs do)",
                list(dormant),
                if dormant.iter().count() == 1 { "it" } else { "them" }
            ),
        );
    }
    if c.uid != root && pp.is_empty() && !has_fcap && c.ambient.is_empty() {
        o.why(
            "no-caps",
            None,
            "a non-root process gets capabilities only from file capabilities or its ambient set; neither applies here".to_string(),
        );
        // Only for a file that has none: when it has some that do not apply (a
        // script, nosuid, a foreign rootid), the reasons above say what to do instead.
        if suid_ok && chain.iter().all(|n| matches!(n.xattr, Xattr::Absent)) {
            o.hint(format!("give the capabilities to the program (fcap grant CAPS {}) or to the process (systemd AmbientCapabilities=, setpriv --ambient-caps); Docker's --cap-add and Kubernetes capabilities.add alone do not reach a non-root user", shell_path(node)));
        }
    }
    let wanted = fp | fi_set;
    if wanted.has(caps::CAP_NET_BIND_SERVICE) && !pe.has(caps::CAP_NET_BIND_SERVICE) {
        o.hint("to bind ports below 1024 without any capability: sysctl net.ipv4.ip_unprivileged_port_start=80 (per network namespace; Docker 20.10+ sets 0 inside containers)".to_string());
    }
    if euid != c.euid {
        o.why(
            "setuid",
            None,
            format!("the set-user-ID bit changes the effective uid to {euid}"),
        );
    }
    if egid != c.egid {
        o.why(
            "setgid",
            None,
            format!("the set-group-ID bit changes the effective gid to {egid}"),
        );
    }

    // Step 8.
    let secure_exec = id_changed
        || euid != c.uid
        || egid != c.gid
        || (c.uid != root && (fe || !(pp - pa).is_empty()));
    if secure_exec {
        o.why(
            "secure-exec",
            None,
            "the program runs in secure-execution mode (AT_SECURE): the dynamic linker ignores LD_LIBRARY_PATH, LD_PRELOAD and the other unsafe LD_* variables, and Node.js ignores NODE_OPTIONS, NODE_EXTRA_CA_CERTS and NODE_PATH".to_string(),
        );
        o.hint("in secure-execution mode, find libraries through /etc/ld.so.conf.d or an rpath instead of LD_LIBRARY_PATH".to_string());
    }
    Prediction {
        outcome: Outcome::Ok,
        permitted: pp,
        effective: pe,
        inheritable: c.inheritable,
        ambient: pa,
        bounding: x,
        uid: c.uid,
        euid,
        gid: c.gid,
        egid,
        secure_exec,
        final_node: fi,
        file_caps: fcaps,
        reasons: o.reasons,
        hints: o.hints,
    }
}

/// The file as a shell word for a hint's command line.
fn shell_path(node: &Node) -> String {
    let p = node.shown();
    if p.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+,:@".contains(&b))
    {
        p
    } else {
        format!("'{}'", p.replace('\'', "'\\''"))
    }
}

/// What to do about a malformed value, as commands for this file.
fn rewrite_hint(node: &Node) -> String {
    let p = shell_path(node);
    format!("rewrite it (fcap set TEXT {p}) or remove it (fcap revoke all {p})")
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
