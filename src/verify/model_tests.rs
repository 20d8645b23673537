//! One test (or more) per row of kernel-exec.md §2 that concerns exec, each checked
//! against the numbers of the spec's experiment log (E1–E16). Rows 5 (KEEP_CAPS and
//! NO_SETUID_FIXUP do not enter the exec computation: the model has no input for
//! them), 15–16 (writing and reading the attribute), 18 (a new user namespace), 19
//! (`no_file_caps`) and 20 (`AT_EXECVE_CHECK`) are not exec-time rules of this model.

use super::*;
use crate::filecaps::FileCaps;

const NBS: u32 = 10; // cap_net_bind_service
const RAW: u32 = 13; // cap_net_raw
const SYSRES: u32 = 24; // cap_sys_resource

fn s(caps: &[u32]) -> CapSet {
    caps.iter()
        .fold(CapSet::EMPTY, |a, c| a | CapSet::single(*c))
}

/// This machine's bounding set in the spec: everything but cap_sys_resource.
fn bnd() -> CapSet {
    CapSet::all() - s(&[SYSRES])
}

/// A fresh non-root process (uid/gid 4242), as after `setpriv … sh -c 'exec …'`.
fn user() -> Caller {
    Caller {
        uid: 4242,
        euid: 4242,
        gid: 4242,
        egid: 4242,
        fsuid: 4242,
        fsgid: 4242,
        groups: vec![],
        inheritable: CapSet::EMPTY,
        permitted: CapSet::EMPTY,
        effective: CapSet::EMPTY,
        ambient: CapSet::EMPTY,
        bounding: bnd(),
        noroot: false,
        no_new_privs: false,
        untrusted_tracer: false,
        shared_fs: false,
        userns: None,
        own_ns: None,
    }
}

fn root() -> Caller {
    Caller {
        uid: 0,
        euid: 0,
        gid: 0,
        egid: 0,
        fsuid: 0,
        fsgid: 0,
        permitted: bnd(),
        effective: bnd(),
        ..user()
    }
}

/// The user with `caps` in its inheritable and ambient sets (and so in pP and pE).
fn with_ambient(mut c: Caller, caps: CapSet) -> Caller {
    c.inheritable = c.inheritable | caps;
    c.ambient = caps;
    c.permitted = c.permitted | caps;
    c.effective = c.effective | caps;
    c
}

fn file(xattr: Xattr) -> Node {
    Node {
        path: PathBuf::from("/t/prog"),
        resolved: None,
        symlink: false,
        inode: Some(Inode {
            mode: S_IFREG | 0o755,
            uid: 0,
            gid: 0,
        }),
        lookup_errno: None,
        dirs: vec![],
        noexec: false,
        nosuid: false,
        mount: None,
        fs: None,
        kind: Kind::Elf,
        elf: ElfCheck::None,
        open_for_writing: false,
        xattr,
    }
}

fn caps(text: &str) -> Node {
    file(Xattr::Value(
        FileCaps::from_text(text, None).unwrap().encode(),
    ))
}

fn plain() -> Node {
    file(Xattr::Absent)
}

fn mode(mut n: Node, m: u32, uid: u32, gid: u32) -> Node {
    n.inode = Some(Inode {
        mode: S_IFREG | m,
        uid,
        gid,
    });
    n
}

fn run(c: &Caller, n: Node) -> Prediction {
    predict(c, &[n])
}

#[track_caller]
fn sets(p: &Prediction, prm: CapSet, eff: CapSet, amb: CapSet) {
    assert_eq!(p.outcome, Outcome::Ok, "{p:#?}");
    assert_eq!(
        (p.permitted, p.effective, p.ambient),
        (prm, eff, amb),
        "{p:#?}"
    );
}

#[track_caller]
fn fails(p: &Prediction, errno: i32) {
    assert_eq!(p.outcome, Outcome::Fail(errno), "{p:#?}");
}

fn has_reason(p: &Prediction, code: &str, cap: Option<u32>) -> bool {
    p.reasons.iter().any(|r| r.code == code && r.cap == cap)
}

// E1: the basic formula for an unprivileged caller.
#[test]
fn plain_binary_gives_a_user_nothing() {
    let p = run(&user(), plain());
    sets(&p, CapSet::EMPTY, CapSet::EMPTY, CapSet::EMPTY);
    assert!(!p.secure_exec);
    assert!(has_reason(&p, "no-caps", None));
}

#[test]
fn file_permitted_and_effective() {
    let p = run(&user(), caps("cap_net_bind_service=ep"));
    sets(&p, s(&[NBS]), s(&[NBS]), CapSet::EMPTY);
    assert!(p.secure_exec);
    assert!(has_reason(&p, "file", Some(NBS)));
    // F3: without the effective bit the cap is permitted only.
    let p = run(&user(), caps("cap_net_bind_service=p"));
    sets(&p, s(&[NBS]), CapSet::EMPTY, CapSet::EMPTY);
    assert!(p.secure_exec && has_reason(&p, "not-effective", None));
}

#[test]
fn file_inheritable_needs_the_callers_inheritable() {
    // F4, F5, F6.
    let p = run(&user(), caps("cap_net_bind_service=i"));
    sets(&p, CapSet::EMPTY, CapSet::EMPTY, CapSet::EMPTY);
    assert!(has_reason(&p, "not-inheritable", Some(NBS)));
    assert!(!p.secure_exec);
    let mut c = user();
    c.inheritable = s(&[NBS]);
    sets(
        &run(&c, caps("cap_net_bind_service=i")),
        s(&[NBS]),
        CapSet::EMPTY,
        CapSet::EMPTY,
    );
    sets(
        &run(&c, caps("cap_net_bind_service=ie")),
        s(&[NBS]),
        s(&[NBS]),
        CapSet::EMPTY,
    );
}

// Row 1: euid root.
#[test]
fn root_gets_bounding_and_inheritable_whatever_the_file_says() {
    sets(&run(&root(), plain()), bnd(), bnd(), CapSet::EMPTY); // R1
    sets(
        &run(&root(), caps("cap_net_bind_service=p")),
        bnd(),
        bnd(),
        CapSet::EMPTY,
    ); // R4
    let mut c = root();
    c.bounding = bnd() - s(&[RAW]);
    c.inheritable = s(&[RAW]);
    // pI adds back what the bounding set lacks.
    sets(&run(&c, plain()), bnd(), bnd(), CapSet::EMPTY);
    assert!(!run(&root(), plain()).secure_exec);
}

#[test]
fn setuid_root_binary_makes_a_user_root() {
    // R7.
    let p = run(&user(), mode(plain(), 0o4755, 0, 0));
    sets(&p, bnd(), bnd(), CapSet::EMPTY);
    assert_eq!((p.uid, p.euid), (4242, 0));
    assert!(p.secure_exec);
}

// Row 2.
#[test]
fn real_root_with_other_euid_gets_permitted_only() {
    let mut c = root();
    c.euid = 4242;
    c.fsuid = 4242; // setresuid moves the fs uid with the euid
    c.effective = CapSet::EMPTY; // setresuid(0,4242,…) clears the effective set
    sets(&run(&c, plain()), bnd(), CapSet::EMPTY, CapSet::EMPTY); // R5
    sets(
        &run(&c, caps("cap_net_bind_service=ep")),
        bnd(),
        bnd(),
        CapSet::EMPTY,
    ); // R6
    assert!(run(&c, plain()).secure_exec);
}

// Row 3.
#[test]
fn noroot_removes_the_root_rules() {
    let mut c = root();
    c.noroot = true;
    let p = run(&c, plain());
    sets(&p, CapSet::EMPTY, CapSet::EMPTY, CapSet::EMPTY); // R2
    assert!(has_reason(&p, "noroot", None));
    sets(
        &run(&c, caps("cap_net_bind_service=ep")),
        s(&[NBS]),
        s(&[NBS]),
        CapSet::EMPTY,
    ); // R3
    // S1: setuid-root under NOROOT: euid 0 but nothing.
    let mut u = user();
    u.noroot = true;
    let p = run(&u, mode(plain(), 0o4755, 0, 0));
    sets(&p, CapSet::EMPTY, CapSet::EMPTY, CapSet::EMPTY);
    assert_eq!(p.euid, 0);
}

// Row 4.
#[test]
fn setuid_root_with_file_caps_uses_the_file_caps() {
    let p = run(&user(), mode(caps("cap_net_bind_service=ep"), 0o4755, 0, 0)); // R8
    sets(&p, s(&[NBS]), s(&[NBS]), CapSet::EMPTY);
    assert_eq!(p.euid, 0);
    assert!(has_reason(&p, "setuid-root-fcaps", None));
    let p = run(&user(), mode(caps("cap_net_bind_service=p"), 0o4755, 0, 0)); // R9
    sets(&p, s(&[NBS]), CapSet::EMPTY, CapSet::EMPTY);
    // Even an empty value switches the root override off.
    let p = run(&user(), mode(caps("="), 0o4755, 0, 0));
    sets(&p, CapSet::EMPTY, CapSet::EMPTY, CapSet::EMPTY);
}

// Row 6: the capability-dumb check.
#[test]
fn effective_file_cap_outside_bounding_fails_with_eperm() {
    let mut c = user();
    c.bounding = bnd() - s(&[NBS]);
    let p = run(&c, caps("cap_net_bind_service=ep")); // B1
    fails(&p, libc::EPERM);
    assert!(has_reason(&p, "bounding-eperm", Some(NBS)));
    assert!(p.hints.iter().any(|h| h.contains("cap_net_bind_service=p")));
    // B2: without the effective bit the cap is silently missing.
    let p = run(&c, caps("cap_net_bind_service=p"));
    sets(&p, CapSet::EMPTY, CapSet::EMPTY, CapSet::EMPTY);
    assert!(has_reason(&p, "bounding", Some(NBS)));
    // B3/B4: pI ∩ fI supplies what the bounding set lacks.
    c.inheritable = s(&[NBS]);
    sets(
        &run(&c, caps("cap_net_bind_service=eip")),
        s(&[NBS]),
        s(&[NBS]),
        CapSet::EMPTY,
    );
    fails(&run(&c, caps("cap_net_bind_service=ep")), libc::EPERM);
}

#[test]
fn eperm_applies_to_root_and_runs_before_the_root_rules() {
    fails(&run(&root(), caps("cap_sys_resource=ep")), libc::EPERM); // R11
    sets(
        &run(&root(), caps("cap_sys_resource=p")),
        bnd(),
        bnd(),
        CapSet::EMPTY,
    ); // R12
    // Not affected by no_new_privs or ambient.
    let mut c = with_ambient(user(), s(&[RAW]));
    c.no_new_privs = true;
    fails(
        &run(&c, caps("cap_sys_resource,cap_net_raw=ep")),
        libc::EPERM,
    );
}

// Row 7.
#[test]
fn no_new_privs_intersects_with_the_callers_permitted_set() {
    let mut c = user();
    c.no_new_privs = true;
    let p = run(&c, caps("cap_net_bind_service=ep")); // N1
    sets(&p, CapSet::EMPTY, CapSet::EMPTY, CapSet::EMPTY);
    assert!(has_reason(&p, "no-new-privs", Some(NBS)));
    assert!(p.secure_exec, "fE still makes the exec secure (N1)");
    // N0a: a caller that already holds the cap keeps it.
    c.permitted = s(&[NBS]);
    sets(
        &run(&c, caps("cap_net_bind_service=ep")),
        s(&[NBS]),
        s(&[NBS]),
        CapSet::EMPTY,
    );
    // X4: setuid-root ignored.
    let mut c = user();
    c.no_new_privs = true;
    let p = run(&c, mode(plain(), 0o4755, 0, 0));
    sets(&p, CapSet::EMPTY, CapSet::EMPTY, CapSet::EMPTY);
    assert_eq!(p.euid, 4242);
    assert!(has_reason(&p, "setid-ignored", None));
}

#[test]
fn no_new_privs_keeps_ambient_for_a_plain_binary_and_clears_it_for_file_caps() {
    let mut c = with_ambient(user(), s(&[NBS]));
    c.no_new_privs = true;
    sets(&run(&c, plain()), s(&[NBS]), s(&[NBS]), s(&[NBS])); // A8
    // A9: the file's cap is already in pP → kept, ambient cleared.
    sets(
        &run(&c, caps("cap_net_bind_service=ep")),
        s(&[NBS]),
        s(&[NBS]),
        CapSet::EMPTY,
    );
    // A10: a new cap → nothing gained, and ambient is gone anyway.
    sets(
        &run(&c, caps("cap_net_raw=ep")),
        CapSet::EMPTY,
        CapSet::EMPTY,
        CapSet::EMPTY,
    );
}

#[test]
fn root_under_no_new_privs_keeps_its_caps() {
    let mut c = root();
    c.no_new_privs = true;
    sets(&run(&c, plain()), bnd(), bnd(), CapSet::EMPTY);
}

// Row 8.
#[test]
fn nosuid_hides_caps_setid_and_errors_but_keeps_ambient() {
    let mut n = caps("cap_net_bind_service=ep");
    n.nosuid = true;
    let p = run(&user(), n.clone());
    sets(&p, CapSet::EMPTY, CapSet::EMPTY, CapSet::EMPTY); // T2
    assert!(has_reason(&p, "nosuid", None));
    let c = with_ambient(user(), s(&[RAW]));
    sets(&run(&c, n), s(&[RAW]), s(&[RAW]), s(&[RAW]));
    let mut n = mode(plain(), 0o4755, 0, 0);
    n.nosuid = true;
    assert_eq!(run(&user(), n).euid, 4242);
    // No EPERM (root, a cap outside the bounding set) and no EINVAL (E16).
    let mut n = caps("cap_sys_resource=ep");
    n.nosuid = true;
    sets(&run(&root(), n), bnd(), bnd(), CapSet::EMPTY);
    let mut n = file(Xattr::Malformed);
    n.nosuid = true;
    sets(&run(&root(), n), bnd(), bnd(), CapSet::EMPTY);
}

// Row 9.
#[test]
fn untrusted_tracer_downgrades_like_no_new_privs() {
    let mut c = user();
    c.untrusted_tracer = true;
    sets(
        &run(&c, caps("cap_net_bind_service=ep")),
        CapSet::EMPTY,
        CapSet::EMPTY,
        CapSet::EMPTY,
    ); // P3
    let p = run(&c, mode(plain(), 0o4755, 0, 0)); // P4
    sets(&p, CapSet::EMPTY, CapSet::EMPTY, CapSet::EMPTY);
    assert_eq!(p.euid, 4242);
    assert!(has_reason(&p, "ptrace", None));
    // A caller with CAP_SETUID keeps the new euid (only the caps are limited).
    c.permitted = s(&[CAP_SETUID]);
    c.effective = s(&[CAP_SETUID]);
    let p = run(&c, mode(plain(), 0o4755, 65534, 0));
    assert_eq!(p.euid, 65534);
}

// Row 10.
#[test]
fn shared_fs_downgrades_but_root_keeps_its_caps() {
    let mut c = user();
    c.shared_fs = true;
    sets(
        &run(&c, caps("cap_net_bind_service=ep")),
        CapSet::EMPTY,
        CapSet::EMPTY,
        CapSet::EMPTY,
    ); // P1
    let mut r = root();
    r.shared_fs = true;
    sets(
        &run(&r, caps("cap_net_bind_service=p")),
        bnd(),
        bnd(),
        CapSet::EMPTY,
    ); // P7
}

// Row 11.
#[test]
fn ambient_survives_only_plain_files_without_id_changes() {
    let c = with_ambient(user(), s(&[NBS]));
    let p = run(&c, plain()); // A1
    sets(&p, s(&[NBS]), s(&[NBS]), s(&[NBS]));
    assert!(!p.secure_exec);
    let p = run(&c, caps("cap_net_raw=p")); // A2
    sets(&p, s(&[RAW]), CapSet::EMPTY, CapSet::EMPTY);
    assert!(has_reason(&p, "ambient-cleared", Some(NBS)));
    let p = run(&c, caps("=")); // A3: an empty value still clears ambient
    sets(&p, CapSet::EMPTY, CapSet::EMPTY, CapSet::EMPTY);
    assert!(!p.secure_exec);
    // A4: setgid to a foreign group.
    let p = run(&c, mode(plain(), 0o2755, 0, 4343));
    sets(&p, CapSet::EMPTY, CapSet::EMPTY, CapSet::EMPTY);
    assert_eq!(p.egid, 4343);
    assert!(p.secure_exec);
    // A5: setgid to the caller's own group, A6: setuid to the caller itself.
    sets(
        &run(&c, mode(plain(), 0o2755, 0, 4242)),
        s(&[NBS]),
        s(&[NBS]),
        s(&[NBS]),
    );
    sets(
        &run(&c, mode(plain(), 0o4755, 4242, 0)),
        s(&[NBS]),
        s(&[NBS]),
        s(&[NBS]),
    );
    // A setgid to a supplementary group keeps ambient too, but is a secure exec.
    let mut g = c.clone();
    g.groups = vec![4343];
    let p = run(&g, mode(plain(), 0o2755, 0, 4343));
    sets(&p, s(&[NBS]), s(&[NBS]), s(&[NBS]));
    assert!(p.secure_exec);
    // A7: setuid to another user.
    let p = run(&c, mode(plain(), 0o4755, 65534, 0));
    sets(&p, CapSet::EMPTY, CapSet::EMPTY, CapSet::EMPTY);
    assert_eq!(p.euid, 65534);
    // S_ISGID without group execute is not a set-group-ID file.
    assert_eq!(run(&c, mode(plain(), 0o2745, 0, 4343)).egid, 4242);
}

// Row 12.
fn script(path: &str, interp: &str, xattr: Xattr) -> Node {
    let mut n = file(xattr);
    n.path = PathBuf::from(path);
    n.kind = Kind::Script {
        interpreter: PathBuf::from(interp),
    };
    n
}

#[test]
fn script_caps_and_setid_are_ignored_the_interpreter_counts() {
    let capped = Xattr::Value(
        FileCaps::from_text("cap_net_bind_service=ep", None)
            .unwrap()
            .encode(),
    );
    let p = predict(
        &user(),
        &[script("/t/s", "/t/prog", capped.clone()), plain()],
    ); // SC1
    sets(&p, CapSet::EMPTY, CapSet::EMPTY, CapSet::EMPTY);
    assert_eq!(p.final_node, 1);
    assert!(has_reason(&p, "script", None));
    assert!(!p.hints.is_empty());
    let p = predict(
        &user(),
        &[
            script("/t/s", "/t/prog", Xattr::Absent),
            caps("cap_net_bind_service=ep"),
        ],
    ); // SC3
    sets(&p, s(&[NBS]), s(&[NBS]), CapSet::EMPTY);
    let p = predict(
        &user(),
        &[
            mode(script("/t/s", "/t/prog", Xattr::Absent), 0o4755, 0, 0),
            plain(),
        ],
    ); // SC4
    sets(&p, CapSet::EMPTY, CapSet::EMPTY, CapSet::EMPTY);
    assert_eq!(p.euid, 4242);
    // SC5: an interpreter that fails the EPERM check fails the script.
    fails(
        &predict(
            &root(),
            &[
                script("/t/s", "/t/prog", Xattr::Absent),
                caps("cap_sys_resource=ep"),
            ],
        ),
        libc::EPERM,
    );
    // X3: ambient passes through a capped script to a plain interpreter.
    let c = with_ambient(user(), s(&[NBS]));
    sets(
        &predict(&c, &[script("/t/s", "/t/prog", capped), plain()]),
        s(&[NBS]),
        s(&[NBS]),
        s(&[NBS]),
    );
}

#[test]
fn interpreter_depth_is_limited_to_five_rewrites() {
    let mut chain: Vec<Node> = (0..5)
        .map(|i| script(&format!("/t/s{i}"), "/t/next", Xattr::Absent))
        .collect();
    chain.push(plain());
    assert_eq!(predict(&user(), &chain).outcome, Outcome::Ok);
    chain.insert(0, script("/t/s", "/t/next", Xattr::Absent));
    fails(&predict(&user(), &chain), libc::ELOOP);
    // A missing interpreter is ENOENT.
    let mut gone = plain();
    gone.inode = None;
    fails(
        &predict(&user(), &[script("/t/s", "/nope", Xattr::Absent), gone]),
        libc::ENOENT,
    );
}

// Row 13 and 14.
#[test]
fn foreign_v3_rootid_is_ignored_and_keeps_ambient() {
    let v3 = FileCaps::from_text("cap_net_bind_service=ep", Some(1000))
        .unwrap()
        .encode();
    let c = with_ambient(user(), s(&[NBS]));
    let p = run(&c, file(Xattr::Value(v3.clone()))); // X1
    sets(&p, s(&[NBS]), s(&[NBS]), s(&[NBS]));
    assert!(has_reason(&p, "foreign-rootid", None));
    sets(
        &run(&user(), file(Xattr::Value(v3))),
        CapSet::EMPTY,
        CapSet::EMPTY,
        CapSet::EMPTY,
    ); // U4
    sets(
        &run(&user(), file(Xattr::ForeignNamespace)),
        CapSet::EMPTY,
        CapSet::EMPTY,
        CapSet::EMPTY,
    );
    // Root of our namespace (rootid 0) applies.
    let v3root = FileCaps::from_text("cap_net_bind_service=ep", Some(0))
        .unwrap()
        .encode();
    sets(
        &run(&user(), file(Xattr::Value(v3root))),
        s(&[NBS]),
        s(&[NBS]),
        CapSet::EMPTY,
    ); // D5
}

#[test]
fn v1_values_are_honoured() {
    // D1: 010000010004000000000000.
    let v1 = vec![0x01, 0, 0, 0x01, 0x00, 0x04, 0, 0, 0, 0, 0, 0];
    let c = with_ambient(user(), s(&[NBS]));
    sets(
        &run(&c, file(Xattr::Value(v1))),
        s(&[NBS]),
        s(&[NBS]),
        CapSet::EMPTY,
    ); // X2
}

// Row 17.
#[test]
fn malformed_values_fail_exec_even_for_root() {
    // What getxattr hides (Xattr::Malformed) may be malformed or a v1/flag-bit value
    // that exec honours: the model cannot tell, so the answer is unknown.
    let p = run(&user(), file(Xattr::Malformed)); // M3
    assert_eq!(p.outcome, Outcome::Unknown);
    assert!(p.reasons.iter().any(|r| r.code == "hidden-xattr"));
    // Bytes fcap does see are judged exactly.
    fails(&run(&root(), file(Xattr::Value(vec![]))), libc::EINVAL);
    fails(
        &run(
            &user(),
            file(Xattr::Value(vec![
                1, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ])),
        ),
        libc::EINVAL,
    ); // D2
    fails(
        &run(
            &user(),
            file(Xattr::Value(
                [1, 0, 0, 4]
                    .iter()
                    .chain([0u8; 16].iter())
                    .copied()
                    .collect(),
            )),
        ),
        libc::EINVAL,
    ); // D3
    fails(&run(&user(), file(Xattr::Value(vec![0; 28]))), libc::ERANGE); // L1
    fails(&run(&user(), file(Xattr::ReadError(libc::EIO))), libc::EIO);
}

// §3: filesystems that never carry file caps, noexec, permissions.
#[test]
fn unsupported_filesystem_means_no_file_caps() {
    let mut n = file(Xattr::Unsupported);
    n.fs = Some("NFS".into());
    let p = run(&user(), n);
    sets(&p, CapSet::EMPTY, CapSet::EMPTY, CapSet::EMPTY);
    assert!(
        p.reasons
            .iter()
            .any(|r| r.code == "fs-no-file-caps" && r.message.contains("NFS"))
    );
}

#[test]
fn access_checks_come_first() {
    let mut n = caps("cap_sys_resource=ep");
    n.noexec = true;
    fails(&run(&root(), n), libc::EACCES);
    fails(&run(&user(), mode(plain(), 0o750, 0, 0)), libc::EACCES);
    let mut g = user();
    g.groups = vec![50];
    sets(
        &run(&g, mode(plain(), 0o750, 0, 50)),
        CapSet::EMPTY,
        CapSet::EMPTY,
        CapSet::EMPTY,
    );
    // The owner's bits decide for the owner, even when others may.
    fails(&run(&user(), mode(plain(), 0o657, 4242, 0)), libc::EACCES);
    // Root needs one execute bit somewhere.
    fails(&run(&root(), mode(plain(), 0o644, 0, 0)), libc::EACCES);
    sets(
        &run(&root(), mode(plain(), 0o700, 4242, 4242)),
        bnd(),
        bnd(),
        CapSet::EMPTY,
    );
    // Directory search permission.
    let mut n = plain();
    n.dirs = vec![(
        PathBuf::from("/t"),
        Inode {
            mode: S_IFDIR | 0o700,
            uid: 0,
            gid: 0,
        },
    )];
    fails(&run(&user(), n.clone()), libc::EACCES);
    sets(&run(&root(), n), bnd(), bnd(), CapSet::EMPTY);
    let mut gone = plain();
    gone.inode = None;
    fails(&run(&user(), gone), libc::ENOENT);
    let mut dir = plain();
    dir.inode = Some(Inode {
        mode: S_IFDIR | 0o755,
        uid: 0,
        gid: 0,
    });
    fails(&run(&root(), dir), libc::EACCES);
    let mut junk = plain();
    junk.kind = Kind::Unknown;
    fails(&run(&user(), junk), libc::ENOEXEC);
}

#[test]
fn secure_exec_follows_the_kernel_condition() {
    // Ambient-only caps: not secure (A1); file caps for a user: secure (F2);
    // root with file caps: not secure (R4).
    assert!(!run(&with_ambient(user(), s(&[NBS])), plain()).secure_exec);
    assert!(run(&user(), caps("cap_net_bind_service=p")).secure_exec);
    assert!(!run(&root(), caps("cap_net_bind_service=ep")).secure_exec);
    let p = run(&user(), caps("cap_net_bind_service=ep"));
    assert!(
        p.reasons
            .iter()
            .any(|r| r.code == "secure-exec" && r.message.contains("NODE_OPTIONS"))
    );
}

#[test]
fn env_as_interpreter_is_pointed_out() {
    let mut env = plain();
    env.path = PathBuf::from("/usr/bin/env");
    let p = predict(
        &user(),
        &[script("/t/app.js", "/usr/bin/env", Xattr::Absent), env],
    );
    assert!(has_reason(&p, "env-interpreter", None), "{p:#?}");
}

#[test]
fn caps_the_caller_held_but_loses_are_explained() {
    let mut c = user();
    c.permitted = s(&[RAW]);
    c.effective = s(&[RAW]);
    let p = run(&c, plain());
    sets(&p, CapSet::EMPTY, CapSet::EMPTY, CapSet::EMPTY);
    assert!(has_reason(&p, "caller-lost", Some(RAW)), "{p:#?}");
}

/// `c` in a user namespace with these uid and gid maps.
fn in_userns(mut c: Caller, map: &[[u32; 3]]) -> Caller {
    c.userns = Some(UserNs {
        uid_map: map.to_vec(),
        gid_map: map.to_vec(),
        nested: false,
    });
    c
}

#[test]
fn a_user_namespace_maps_root_set_id_owners_dac_override_and_rootids() {
    // `unshare --user --map-root-user` by uid 4242: root inside is 4242 here.
    let ns_root = in_userns(user(), &[[0, 4242, 1]]);
    let mut ns_root = ns_root;
    ns_root.permitted = bnd();
    ns_root.effective = bnd();
    assert_eq!(ns_root.root_uid(), Some(4242));
    // A setuid-root file: owner 0 is unmapped, the bits are ignored, and the caller
    // is root of its namespace.
    let p = run(&ns_root, mode(plain(), 0o4755, 0, 0));
    sets(&p, bnd(), bnd(), CapSet::EMPTY);
    assert_eq!(p.euid, 4242);
    assert!(has_reason(&p, "setid-unmapped", None), "{p:#?}");
    // CAP_DAC_OVERRIDE does not reach a file of an unmapped owner.
    let p = run(&ns_root, mode(plain(), 0o700, 0, 0));
    assert_eq!(p.outcome, Outcome::Fail(libc::EACCES), "{p:#?}");
    let p = run(&ns_root, mode(plain(), 0o700, 4242, 4242));
    assert_eq!(p.outcome, Outcome::Ok, "{p:#?}");
    // A v3 value whose rootid is root of the namespace applies to a non-root user
    // there; another rootid does not.
    let inside = in_userns(
        Caller {
            uid: 101_000,
            euid: 101_000,
            fsuid: 101_000,
            ..user()
        },
        &[[0, 100_000, 65536]],
    );
    let v3 = |rootid: u32| {
        let mut f = FileCaps::from_text("cap_net_raw=ep", None).unwrap();
        f.rootid = Some(rootid);
        file(Xattr::Value(f.encode()))
    };
    let p = run(&inside, v3(100_000));
    sets(&p, s(&[RAW]), s(&[RAW]), CapSet::EMPTY);
    assert!(has_reason(&p, "namespace-rootid", None), "{p:#?}");
    let p = run(&inside, v3(200_000));
    sets(&p, CapSet::EMPTY, CapSet::EMPTY, CapSet::EMPTY);
    assert!(has_reason(&p, "foreign-rootid", None), "{p:#?}");
    // A namespace without uid 0 has no root at all.
    let rootless = in_userns(
        Caller {
            uid: 100_000,
            euid: 100_000,
            fsuid: 100_000,
            ..user()
        },
        &[[1000, 100_000, 10]],
    );
    assert_eq!(rootless.root_uid(), None);
    let p = run(&rootless, plain());
    sets(&p, CapSet::EMPTY, CapSet::EMPTY, CapSet::EMPTY);
    assert_eq!(UserNs::inside(&[[1000, 100_000, 10]], 100_009), Some(1009));
    assert_eq!(UserNs::inside(&[[1000, 100_000, 10]], 100_010), None);
    assert_eq!(UserNs::outside(&[[0, u32::MAX - 1, 2]], 1), Some(u32::MAX));
}

/// verify run inside the caller's user namespace (issue 11 items 7 and 8): an owner
/// with no mapping shows as the overflow id, measured with namespaces whose maps a
/// root parent writes.
#[test]
fn inside_a_user_namespace() {
    let own = |map: Vec<[u32; 3]>| OwnNs {
        uid_map: map.clone(),
        gid_map: map,
        overflow_uid: 65534,
        overflow_gid: 65534,
    };
    let inside = |c: Caller, map| Caller {
        own_ns: Some(own(map)),
        ..c
    };
    // Only root mapped (0 → 100000): a root-owned file shows as 65534, unmapped.
    let root_only = inside(root(), vec![[0, 100_000, 1]]);
    let p = run(&root_only, mode(plain(), 0o4755, 65534, 65534));
    assert_eq!((p.outcome, p.euid), (Outcome::Ok, 0));
    assert!(has_reason(&p, "setid-unmapped", None));
    assert_eq!(
        p.effective,
        bnd(),
        "the namespace's root keeps its capabilities"
    );
    // CAP_DAC_OVERRIDE does not reach an unmapped owner's 0700 file.
    let p = run(&root_only, mode(plain(), 0o700, 65534, 65534));
    assert_eq!(p.outcome, Outcome::Fail(libc::EACCES));
    // 65536 ids mapped: 65534 is both the overflow id and a mapped one.
    let wide = inside(root(), vec![[0, 100_000, 65536]]);
    let p = run(&wide, mode(plain(), 0o4755, 65534, 65534));
    assert_eq!(p.outcome, Outcome::Unknown);
    assert!(has_reason(&p, "owner-unknown", None));
    assert_eq!(run(&wide, mode(plain(), 0o4755, 0, 0)).euid, 0);
    // Host root is uid 1000 inside: getxattr shows a v2 value as v3 with rootid
    // 1000, and the kernel applies it (the parent namespace's root owns it).
    let host_root_inside = inside(user(), vec![[0, 100_000, 1000], [1000, 0, 1]]);
    let v3 = FileCaps::from_text("cap_net_raw=ep", Some(1000))
        .unwrap()
        .encode();
    let p = run(&host_root_inside, file(Xattr::Value(v3.clone())));
    assert_eq!(p.permitted, s(&[13]));
    assert!(has_reason(&p, "namespace-rootid", None));
    // The same value where 1000 is not the parent's root stays foreign.
    let p = run(
        &inside(user(), vec![[0, 100_000, 65536]]),
        file(Xattr::Value(v3)),
    );
    assert_eq!(p.permitted, CapSet::EMPTY);
    assert!(has_reason(&p, "foreign-rootid", None));
}
