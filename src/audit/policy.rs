//! The policy file: reviewed exceptions to the audit rules.
//!
//! ```yaml
//! builtin: [debian-base]          # opt in to Debian's stock set-ID programs
//! exceptions:
//!   - rule: FC150                 # or a list: [FC150, FC151]
//!     path: /usr/bin/su           # absolute, or a ** glob; never a bare name
//!     reason: PAM login for operators
//!     expires: 2027-06-30         # optional; afterwards the finding is back
//!   - rule: FC110
//!     path: /opt/app/**/node
//!     caps: cap_net_bind_service  # the most the file may carry
//!     image: registry.example/app*  # only for matching --image arguments ('*' crosses '/')
//!     reason: binds :443 in the container
//! ```
//!
//! Every mistake is an error naming the file and line: an exception that silently
//! matches nothing (or everything) is worse than none.

use crate::caps::CapSet;
use crate::scan::Pattern;
use crate::verify::runtime::yaml::{self, Node, Value};
use std::cell::Cell;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The file looked for in the working directory.
pub const DEFAULT_FILE: &str = ".fcap-policy.yaml";

/// One exception.
pub struct Exception {
    pub rules: Vec<&'static str>,
    pub path: String,
    glob: Pattern,
    image: Option<Pattern>,
    /// The most the file may carry (permitted ∪ inheritable).
    caps: Option<CapSet>,
    pub reason: String,
    /// (year, month, day).
    pub expires: Option<(i32, u32, u32)>,
    /// 0 for a built-in entry.
    pub line: usize,
    pub used: Cell<usize>,
}

impl Exception {
    pub fn expired(&self, today: (i32, u32, u32)) -> bool {
        self.expires.is_some_and(|d| d < today)
    }
}

/// A loaded policy.
#[derive(Default)]
pub struct Policy {
    /// Where it came from (for messages); None: no policy file.
    pub file: Option<PathBuf>,
    pub exceptions: Vec<Exception>,
}

/// Debian's stock set-ID programs (a base image, login, util-linux, OpenSSH, dbus,
/// polkit, cron), as (rule, path, package): what `builtin: [debian-base]` allows.
const DEBIAN_BASE: &[(&str, &str, &str)] = &[
    ("FC150", "/usr/bin/chfn", "passwd"),
    ("FC150", "/usr/bin/chsh", "passwd"),
    ("FC150", "/usr/bin/gpasswd", "passwd"),
    ("FC150", "/usr/bin/newgrp", "login"),
    ("FC150", "/usr/bin/passwd", "passwd"),
    ("FC150", "/usr/bin/su", "util-linux"),
    ("FC150", "/usr/bin/mount", "mount"),
    ("FC150", "/usr/bin/umount", "mount"),
    ("FC150", "/usr/bin/newuidmap", "uidmap"),
    ("FC150", "/usr/bin/newgidmap", "uidmap"),
    ("FC150", "/usr/bin/sudo", "sudo"),
    ("FC150", "/usr/bin/fusermount3", "fuse3"),
    ("FC150", "/usr/lib/openssh/ssh-keysign", "openssh-client"),
    (
        "FC150",
        "/usr/lib/dbus-1.0/dbus-daemon-launch-helper",
        "dbus-daemon",
    ),
    (
        "FC150",
        "/usr/lib/polkit-1/polkit-agent-helper-1",
        "polkitd",
    ),
    ("FC151", "/usr/bin/chage", "passwd"),
    ("FC151", "/usr/bin/expiry", "passwd"),
    ("FC151", "/usr/sbin/unix_chkpwd", "libpam-modules-bin"),
    ("FC151", "/usr/bin/ssh-agent", "openssh-client"),
    ("FC151", "/usr/bin/wall", "bsdutils"),
    ("FC151", "/usr/bin/write.ul", "bsdutils"),
    ("FC151", "/usr/bin/crontab", "cron"),
    ("FC151", "/usr/bin/dotlockfile", "liblockfile-bin"),
    ("FC151", "/usr/lib/*/utempter/utempter", "libutempter0"),
];

/// Built-in allowlists by name.
const BUILTINS: &[&str] = &["debian-base"];

fn builtin(name: &str) -> Vec<Exception> {
    let mut out = Vec::new();
    if name != "debian-base" {
        return out;
    }
    for (rule, path, pkg) in DEBIAN_BASE {
        let Some(r) = super::rule_of(rule) else {
            continue;
        };
        // Images without merged /usr keep them in /bin and /sbin too.
        let mut paths = vec![path.to_string()];
        for (usr, old) in [("/usr/bin/", "/bin/"), ("/usr/sbin/", "/sbin/")] {
            if let Some(rest) = path.strip_prefix(usr) {
                paths.push(format!("{old}{rest}"));
            }
        }
        for p in paths {
            out.push(Exception {
                rules: vec![r.id],
                glob: Pattern::new(OsStr::new(&p)),
                path: p,
                image: None,
                caps: Some(CapSet::EMPTY),
                reason: format!("debian-base: Debian's stock set-ID program (package {pkg})"),
                expires: None,
                line: 0,
                used: Cell::new(0),
            });
        }
    }
    out
}

impl Policy {
    /// `--policy FILE`, else `.fcap-policy.yaml` in the working directory if there.
    pub fn load(given: Option<&Path>) -> anyhow::Result<Policy> {
        let file = match given {
            Some(f) => f.to_path_buf(),
            None => {
                let f = PathBuf::from(DEFAULT_FILE);
                if !f.exists() {
                    return Ok(Policy::default());
                }
                f
            }
        };
        let text = std::fs::read(&file).map_err(|e| crate::error::io_at_path(&file, &e, false))?;
        let text =
            String::from_utf8(text).map_err(|_| crate::error::at_path(&file, "not UTF-8 text"))?;
        let mut p = parse(&text).map_err(|e| {
            crate::error::at_path(
                &file,
                format!("{e}; see 'fcap audit --help' for the policy file's format"),
            )
        })?;
        p.file = Some(file);
        Ok(p)
    }

    /// The exception that suppresses a finding of `rule` at `path` (in `image`),
    /// the file carrying `caps`. Every exception that fits is counted as used,
    /// those past their date too (they are reported as expired, not unused).
    pub fn matching(
        &self,
        rule: &str,
        path: &Path,
        image: Option<&str>,
        caps: CapSet,
        today: (i32, u32, u32),
    ) -> Option<&Exception> {
        let name = path.file_name().map_or(&b""[..], |n| n.as_bytes());
        let mut hit = None;
        for e in &self.exceptions {
            if !e.rules.contains(&rule) || !e.glob.matches(path.as_os_str().as_bytes(), name) {
                continue;
            }
            match (&e.image, image) {
                (Some(_), None) => continue,
                (Some(g), Some(i)) if !g.matches(i.as_bytes(), i.as_bytes()) => continue,
                _ => {}
            }
            if e.caps.is_some_and(|most| !(caps - most).is_empty()) {
                continue;
            }
            e.used.set(e.used.get() + 1);
            if hit.is_none() && !e.expired(today) {
                hit = Some(e);
            }
        }
        hit
    }

    /// `FILE:LINE` of an exception, for messages.
    pub fn at(&self, e: &Exception) -> String {
        match &self.file {
            Some(f) if e.line > 0 => format!("{}:{}", crate::error::quote(f), e.line),
            _ => "builtin".to_string(),
        }
    }
}

/// Today's date (UTC) as (year, month, day).
pub fn today() -> (i32, u32, u32) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    civil((secs / 86_400) as i64)
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// `civil_from_days`).
fn civil(z: i64) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = (yoe + era * 400 + i64::from(m <= 2)) as i32;
    (y, m, d)
}

/// `YYYY-MM-DD`, a real date.
fn date(s: &str) -> Option<(i32, u32, u32)> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y: i32 = s[..4].parse().ok()?;
    let m: u32 = s[5..7].parse().ok()?;
    let d: u32 = s[8..].parse().ok()?;
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    ((1..=12).contains(&m) && d >= 1 && d <= days[(m - 1) as usize]).then_some((y, m, d))
}

fn err(n: &Node, msg: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("line {}: {msg}", n.line)
}

/// Parse a policy file's text.
pub fn parse(text: &str) -> anyhow::Result<Policy> {
    // (Merge keys as go-yaml v3 reads them; a policy rarely has any.)
    let docs = yaml::load(text, yaml::Merge::V3)?;
    let mut p = Policy::default();
    let Some(doc) = docs.first() else {
        return Ok(p);
    };
    anyhow::ensure!(
        docs.len() == 1,
        "line {}: one YAML document expected",
        docs[1].line
    );
    let top = match &doc.value {
        Value::Map(m) => m,
        Value::Null => return Ok(p),
        _ => {
            return Err(err(
                doc,
                format!(
                    "expected a mapping with 'exceptions:', found {}",
                    doc.kind()
                ),
            ));
        }
    };
    for (key, v) in top {
        match key.as_str() {
            "exceptions" => {
                if v.is_null() {
                    continue;
                }
                let list = v.as_seq().ok_or_else(|| {
                    err(
                        v,
                        format!("'exceptions' must be a list, found {}", v.kind()),
                    )
                })?;
                for e in list {
                    p.exceptions.push(exception(e)?);
                }
            }
            "builtin" => {
                let names: Vec<&Node> = match &v.value {
                    Value::Seq(s) => s.iter().collect(),
                    _ => vec![v],
                };
                for n in names {
                    let name = n
                        .as_str()
                        .ok_or_else(|| err(n, "'builtin' takes names such as debian-base"))?;
                    anyhow::ensure!(
                        BUILTINS.contains(&name),
                        "line {}: unknown builtin allowlist {name:?} (known: {})",
                        n.line,
                        BUILTINS.join(", ")
                    );
                    p.exceptions.extend(builtin(name));
                }
            }
            other => {
                return Err(err(
                    v,
                    format!("unknown key {other:?} (expected 'exceptions' or 'builtin')"),
                ));
            }
        }
    }
    Ok(p)
}

fn string<'a>(n: &'a Node, key: &str) -> anyhow::Result<&'a str> {
    n.as_str().filter(|s| !s.trim().is_empty()).ok_or_else(|| {
        err(
            n,
            format!("'{key}' must be a non-empty string, found {}", n.kind()),
        )
    })
}

fn exception(n: &Node) -> anyhow::Result<Exception> {
    let Value::Map(m) = &n.value else {
        return Err(err(
            n,
            format!(
                "an exception must be a mapping (rule, path, reason), found {}",
                n.kind()
            ),
        ));
    };
    let mut rules = Vec::new();
    let (mut path, mut image, mut caps, mut reason, mut expires) = (None, None, None, None, None);
    for (key, v) in m {
        match key.as_str() {
            "rule" => {
                let items: Vec<&Node> = match &v.value {
                    Value::Seq(s) => s.iter().collect(),
                    _ => vec![v],
                };
                for r in items {
                    let id = string(r, "rule")?;
                    let rule = super::rule_of(id.trim()).ok_or_else(|| {
                        err(r, format!("unknown rule {id:?} (rules are FC101..FC161; 'fcap audit --help' lists them)"))
                    })?;
                    rules.push(rule.id);
                }
            }
            "path" => {
                let s = string(v, "path")?;
                anyhow::ensure!(
                    s.starts_with('/') || s.starts_with("**/"),
                    "line {}: path {s:?} must be absolute (/usr/bin/su) or a ** glob (**/bin/su); a bare name would match every file of that name",
                    v.line
                );
                anyhow::ensure!(
                    s != "/" && !s.ends_with("/**") && s != "**/*",
                    "line {}: path {s:?} exempts a whole directory; name the files (a glob may end in a name pattern such as /opt/app/**/node)",
                    v.line
                );
                path = Some(s.to_string());
            }
            "image" => image = Some(string(v, "image")?.to_string()),
            "caps" => {
                let s = match &v.value {
                    Value::Str(s) => s.clone(),
                    Value::Seq(items) => items
                        .iter()
                        .map(|i| string(i, "caps").map(str::to_string))
                        .collect::<anyhow::Result<Vec<_>>>()?
                        .join(","),
                    _ => {
                        return Err(err(
                            v,
                            format!("'caps' must be a capability list, found {}", v.kind()),
                        ));
                    }
                };
                let set = if s.trim().eq_ignore_ascii_case("none") || s.trim().is_empty() {
                    CapSet::EMPTY
                } else {
                    crate::capspec::parse_list(s.trim(), CapSet::all()).map_err(|e| err(v, e))?
                };
                caps = Some(set);
            }
            "reason" => reason = Some(string(v, "reason")?.trim().to_string()),
            "expires" => {
                let s = match &v.value {
                    Value::Str(s) => s.clone(),
                    _ => {
                        return Err(err(
                            v,
                            format!("'expires' must be a date YYYY-MM-DD, found {}", v.kind()),
                        ));
                    }
                };
                expires =
                    Some(date(s.trim()).ok_or_else(|| {
                        err(v, format!("'expires' {s:?} is not a date YYYY-MM-DD"))
                    })?);
            }
            other => {
                return Err(err(
                    v,
                    format!(
                        "unknown key {other:?} in an exception (rule, path, reason, image, caps, expires)"
                    ),
                ));
            }
        }
    }
    anyhow::ensure!(
        !rules.is_empty(),
        "line {}: the exception has no 'rule'",
        n.line
    );
    let path = path.ok_or_else(|| err(n, "the exception has no 'path'"))?;
    let reason = reason.ok_or_else(|| {
        err(
            n,
            "the exception has no 'reason': say why the file may be privileged",
        )
    })?;
    Ok(Exception {
        rules,
        glob: Pattern::new(OsStr::new(&path)),
        path,
        // An image is a reference or a file, not a tree: '*' crosses '/' there
        // (registry.example/app* matches registry.example/app:1.2 and ./out/app.tar
        // is matched by *app.tar).
        image: image.map(|i| Pattern::new(OsStr::new(&i.replace('*', "**")))),
        caps,
        reason,
        expires,
        line: n.line,
        used: Cell::new(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(20_454), (2026, 1, 1));
        assert_eq!(date("2024-02-29"), Some((2024, 2, 29)));
        assert_eq!(date("2023-02-29"), None);
        assert_eq!(date("2023-13-01"), None);
        assert_eq!(date("23-1-1"), None);
    }

    #[test]
    fn exceptions_parse_and_mistakes_name_the_line() {
        let p = parse("exceptions:\n  - rule: [FC150, FC151]\n    path: /usr/bin/su\n    reason: ok\n    expires: 2030-01-01\n").unwrap();
        assert_eq!(p.exceptions[0].rules, ["FC150", "FC151"]);
        assert_eq!(p.exceptions[0].line, 2);
        for (text, line) in [
            (
                "exceptions:\n  - rule: FC150\n    path: su\n    reason: x\n",
                3,
            ),
            (
                "exceptions:\n  - rule: FC999\n    path: /a\n    reason: x\n",
                2,
            ),
            ("exceptions:\n  - rule: FC150\n    path: /a\n", 2),
            (
                "exceptions:\n  - rule: FC150\n    path: /a\n    reason: x\n    expires: 2030-02-30\n",
                5,
            ),
            (
                "exceptions:\n  - rule: FC150\n    path: /opt/**\n    reason: x\n",
                3,
            ),
            ("exception:\n  - rule: FC150\n", 2),
        ] {
            let e = parse(text).err().unwrap().to_string();
            assert!(e.starts_with(&format!("line {line}:")), "{text}: {e}");
        }
    }

    proptest::proptest! {
        /// Whatever the text, parsing ends with a policy or an error that names a
        /// line: never a panic.
        #[test]
        fn any_text_parses_or_names_a_line(
            text in "(exceptions:|builtin:|  - rule: |    path: |    reason: |    expires: |    caps: |    image: |FC1[0-6][0-9]|/usr/bin/su|\\*\\*/|2030-01-01|\\[|\\]|&a |\\*a|\n|[ -~]{0,6})*"
        ) {
            if let Err(e) = parse(&text) {
                let e = e.to_string();
                proptest::prop_assert!(e.starts_with("line "), "{}", e);
            }
        }
    }
}
