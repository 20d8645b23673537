//! User and group lookups from `/etc/passwd` and `/etc/group`, read directly.
//!
//! fcap ships as a static binary (for slim and distroless images), where glibc's NSS
//! (`getpwnam`) does not work. Reading the files covers every local account, and a
//! numeric id always works, even when no file names it.

use std::path::Path;

/// One account, as `verify --user` needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: Option<String>,
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups (from `/etc/group` member lists), excluding the primary one.
    pub groups: Vec<u32>,
}

/// Look up `who` (a name, or a numeric uid) in the system's files.
pub fn lookup(who: &str) -> anyhow::Result<User> {
    lookup_in(who, Path::new("/etc/passwd"), Path::new("/etc/group"))
}

/// [`lookup`] against other files (tests, or an image's root).
pub fn lookup_in(who: &str, passwd: &Path, group: &Path) -> anyhow::Result<User> {
    let passwd_text = std::fs::read_to_string(passwd).unwrap_or_default();
    let group_text = std::fs::read_to_string(group).unwrap_or_default();
    lookup_text(
        who,
        &passwd_text,
        &group_text,
        &passwd.display().to_string(),
    )
}

/// [`lookup`] in the text of account files (an image's); `where_` names the passwd
/// file in messages.
pub fn lookup_text(
    who: &str,
    passwd: &str,
    group_text: &str,
    where_: &str,
) -> anyhow::Result<User> {
    let numeric = who.parse::<u32>().ok();
    let entry = passwd_line(Some(who), numeric, passwd);
    let (name, uid, gid) = match (entry, numeric) {
        (Some((n, u, g)), _) => (Some(n), u, g),
        // A uid with no account: its own number as primary group, no extras.
        (None, Some(u)) => (None, u, u),
        (None, None) => anyhow::bail!(
            "unknown user '{who}': not in {where_} (use a numeric uid for accounts that exist only elsewhere)"
        ),
    };
    let mut groups = Vec::new();
    if let Some(n) = &name {
        // group: name:x:gid:member,member
        for l in group_text.lines() {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 4 || l.starts_with('#') {
                continue;
            }
            if let Ok(g) = f[2].parse::<u32>()
                && g != gid
                && f[3].split(',').any(|m| m == n)
                && !groups.contains(&g)
            {
                groups.push(g);
            }
        }
    }
    Ok(User {
        name,
        uid,
        gid,
        groups,
    })
}

/// A container's `USER` (`user[:group]`, names or numbers) in an image's account
/// files, as runc resolves it: a name must be there, numbers always work.
pub fn lookup_spec(spec: &str, passwd: &str, group: &str, place: &str) -> anyhow::Result<User> {
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let mut user = lookup_text(u, passwd, group, &format!("/etc/passwd{place}"))?;
    if let Some(g) = g {
        user.gid = group_text(g, group, &format!("/etc/group{place}"))?;
        user.groups.retain(|x| *x != user.gid);
    }
    Ok(user)
}

/// A group by name or number in a group file's text.
pub fn group_text(who: &str, text: &str, where_: &str) -> anyhow::Result<u32> {
    if let Ok(g) = who.parse::<u32>() {
        return Ok(g);
    }
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 3 && f[0] == who)
                .then(|| f[2].parse::<u32>().ok())
                .flatten()
        })
        .ok_or_else(|| anyhow::anyhow!("unknown group '{who}': not in {where_}"))
}

/// The gid of the group named `who`, or numbered `who`, in a group file's text: None
/// when no line has it (a number too, unlike [`group_text`]).
pub fn group_entry(who: &str, text: &str) -> Option<u32> {
    let number = who.parse::<u32>().ok();
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        let gid = f.get(2)?.parse::<u32>().ok()?;
        (f[0] == who || number == Some(gid)).then_some(gid)
    })
}

/// [`group_entry`] in this system's `/etc/group`.
pub fn host_group(who: &str) -> Option<u32> {
    group_entry(
        who,
        &std::fs::read_to_string("/etc/group").unwrap_or_default(),
    )
}

/// The name of user `uid`, if `/etc/passwd` has one (no group file is read).
pub fn user_name(uid: u32) -> Option<String> {
    passwd_entry(None, Some(uid), Path::new("/etc/passwd")).map(|(name, _, _)| name)
}

/// The passwd line (`name:x:uid:gid:gecos:home:shell`) for a name or a uid:
/// (name, uid, primary gid).
fn passwd_entry(name: Option<&str>, uid: Option<u32>, passwd: &Path) -> Option<(String, u32, u32)> {
    let text = std::fs::read_to_string(passwd).ok()?;
    passwd_line(name, uid, &text)
}

fn passwd_line(name: Option<&str>, uid: Option<u32>, text: &str) -> Option<(String, u32, u32)> {
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 4 || l.starts_with('#') {
            return None;
        }
        let (u, g) = (f[2].parse::<u32>().ok()?, f[3].parse::<u32>().ok()?);
        (name == Some(f[0]) || uid == Some(u)).then(|| (f[0].to_string(), u, g))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_entries_by_name_or_number_must_exist() {
        let text = "# comment\nadm:x:4:syslog\nnogroup:x:65534:\n";
        assert_eq!(group_entry("adm", text), Some(4));
        assert_eq!(group_entry("65534", text), Some(65534));
        assert_eq!(group_entry("4242", text), None);
        assert_eq!(group_entry("staff", text), None);
    }

    #[test]
    fn reads_accounts_and_supplementary_groups() {
        let d = tempfile::tempdir().unwrap();
        let (p, g) = (d.path().join("passwd"), d.path().join("group"));
        std::fs::write(
            &p,
            "root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\nbad line\n",
        )
        .unwrap();
        std::fs::write(
            &g,
            "root:x:0:\nnode:x:1000:\nwww:x:33:node,other\ndocker:x:999:node\n",
        )
        .unwrap();
        let u = lookup_in("node", &p, &g).unwrap();
        assert_eq!(
            u,
            User {
                name: Some("node".into()),
                uid: 1000,
                gid: 1000,
                groups: vec![33, 999]
            }
        );
        assert_eq!(
            lookup_in("1000", &p, &g).unwrap().name.as_deref(),
            Some("node")
        );
        let n = lookup_in("4242", &p, &g).unwrap();
        assert_eq!((n.name, n.uid, n.gid, n.groups), (None, 4242, 4242, vec![]));
        let e = lookup_in("nosuchuser", &p, &g).unwrap_err().to_string();
        assert!(e.starts_with("unknown user 'nosuchuser'"), "{e}");
    }

    #[test]
    fn nobody_exists_on_this_machine() {
        let u = lookup("nobody").unwrap();
        assert_eq!(u.uid, 65534);
        assert_eq!(user_name(65534).as_deref(), Some("nobody"));
        assert_eq!(user_name(0).as_deref(), Some("root"));
    }
}
