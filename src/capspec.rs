//! The `CAPS` argument of `fcap grant` and `fcap revoke`: a list of capabilities and,
//! for grant, the sets to add them to.
//!
//! Accepted forms (what users already type for setcap):
//!
//! | input | meaning |
//! |---|---|
//! | `net_raw` | `cap_net_raw`, flags `ep` (what a program that is not capability-aware needs) |
//! | `cap_net_raw=ep`, `cap_net_raw+ep`, `cap_net_raw=+ep` | the same, flags written out |
//! | `net_admin,net_raw=eip` | several capabilities, one set of flags |
//! | `cap_setuid=p`, `13`, `0x0d` | permitted only; numbers with C `strtoul` rules |
//! | `all` | every capability the running kernel knows (revoke: every bit) |
//!
//! Unlike libcap text, `+` never means "start from empty": grant always merges into what
//! the file has. Full libcap expressions (several clauses, `-`) belong to `fcap set`.

use crate::caps::{self, CapSet, MAX_BITS};
use std::fmt;

/// What `fcap grant CAPS` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantSpec {
    pub caps: CapSet,
    pub permitted: bool,
    pub inheritable: bool,
    pub effective: bool,
}

impl GrantSpec {
    /// The flags as libcap writes them (`eip` order).
    pub fn flags(&self) -> String {
        flag_text(self.effective, self.inheritable, self.permitted)
    }

    /// The same spec with the effective flag set or cleared, as a command-line argument.
    pub fn with_effective(&self, e: bool) -> String {
        format!(
            "{}={}",
            self.caps.names().join(","),
            flag_text(e, self.inheritable, self.permitted)
        )
    }
}

impl fmt::Display for GrantSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.caps.names().join(","), self.flags())
    }
}

fn flag_text(e: bool, i: bool, p: bool) -> String {
    let mut s = String::new();
    for (on, c) in [(e, 'e'), (i, 'i'), (p, 'p')] {
        if on {
            s.push(c);
        }
    }
    s
}

/// Why a `CAPS` argument was refused. The message says what to type instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError(pub String);

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SpecError {}

fn err(msg: impl Into<String>) -> SpecError {
    SpecError(msg.into())
}

/// Parse the `CAPS` argument of `fcap grant`.
pub fn parse_grant(s: &str) -> Result<GrantSpec, SpecError> {
    // Blanks after a comma are fine (as for revoke); blanks between words are not.
    if s.split(',')
        .any(|item| item.trim().contains(char::is_whitespace))
    {
        return Err(err(format!(
            "'{s}' has several clauses: grant takes one list and one set of flags (e.g. net_admin,net_raw=ep); use 'fcap set' for a full libcap expression"
        )));
    }
    let (list, flags) = match s.find(['=', '+', '-']) {
        None => (s, None),
        Some(i) => (&s[..i], Some(&s[i..])),
    };
    let caps = parse_list(list, CapSet::all())?;
    let Some(op) = flags else {
        // No flags: `ep`, what a program that never touches its capabilities needs.
        return Ok(GrantSpec {
            caps,
            permitted: true,
            inheritable: false,
            effective: true,
        });
    };
    // "=ep", "+ep", "=+ep"
    let letters = op
        .strip_prefix("=+")
        .or_else(|| op.strip_prefix('='))
        .or_else(|| op.strip_prefix('+'));
    let Some(letters) = letters else {
        return Err(err(format!(
            "'{s}': grant only adds capabilities; use 'fcap revoke' to remove them"
        )));
    };
    if letters.contains(['-', '+', '=']) {
        return Err(err(format!(
            "'{s}': grant takes one set of flags (e.g. =ep); use 'fcap set' for a full libcap expression"
        )));
    }
    if letters.is_empty() {
        return Err(err(format!(
            "'{s}': no flags after '{op}'; write e.g. {list}=ep (or {list}=p, {list}=i)"
        )));
    }
    let (mut e, mut i, mut p) = (false, false, false);
    for c in letters.chars() {
        match c {
            'e' | 'E' => e = true,
            'i' | 'I' => i = true,
            'p' | 'P' => p = true,
            other => {
                return Err(err(format!(
                    "'{s}': unknown flag '{other}'; flags are e (effective), i (inheritable) and p (permitted)"
                )));
            }
        }
    }
    if !p && !i {
        return Err(err(format!(
            "'{s}': 'e' alone grants nothing, because the effective flag only raises capabilities that are also permitted or inheritable; write {list}=ep"
        )));
    }
    Ok(GrantSpec {
        caps,
        permitted: p,
        inheritable: i,
        effective: e,
    })
}

/// Parse the `CAPS` argument of `fcap revoke`: a list, or `all` for every bit (also
/// the ones the running kernel does not know, so nothing at all is left behind).
pub fn parse_revoke(s: &str) -> Result<CapSet, SpecError> {
    if let Some(i) = s.find(['=', '+', '-']) {
        return Err(err(format!(
            "'{s}': revoke removes capabilities from every set and takes no flags; write 'fcap revoke {} PATH...' (to change only some sets, use 'fcap set EXPR PATH...')",
            &s[..i]
        )));
    }
    if s.contains(char::is_whitespace) && !s.contains(',') {
        return Err(err(format!(
            "'{s}': separate capabilities with ',' (e.g. net_admin,net_raw)"
        )));
    }
    parse_list(s, CapSet(u64::MAX))
}

/// Add a hint when the refused `CAPS` argument is an existing path: the user most likely
/// swapped the arguments (`fcap grant node net_raw`).
pub fn with_order_hint(e: SpecError, given: &str, verb: &str) -> SpecError {
    if !given.is_empty() && std::path::Path::new(given).symlink_metadata().is_ok() {
        SpecError(format!(
            "{}; '{given}' is a file: the capabilities come first (fcap {verb} CAPS PATH...)",
            e.0
        ))
    } else {
        e
    }
}

/// `a,b,13,all` → a set; `all` expands to `all`. Used by grant, revoke and verify.
pub fn parse_list(list: &str, all: CapSet) -> Result<CapSet, SpecError> {
    if list.trim().is_empty() {
        return Err(err(
            "empty capability list: name at least one capability (e.g. net_bind_service); 'fcap list' shows them all",
        ));
    }
    let mut set = CapSet::EMPTY;
    for item in list.split(',') {
        let item = item.trim();
        if item.is_empty() {
            return Err(err(format!(
                "empty item in capability list '{list}' (a doubled or trailing ',')"
            )));
        }
        if item.eq_ignore_ascii_case("all") {
            set = set | all;
            continue;
        }
        if item.starts_with(|c: char| c.is_ascii_digit())
            && let Some((n, "")) = caps::parse_c_ulong(item)
            && n >= u64::from(MAX_BITS)
        {
            return Err(err(format!(
                "capability number {item} is out of range: capabilities are numbered 0 to 63 (this kernel knows 0 to {})",
                caps::kernel_cap_count().saturating_sub(1)
            )));
        }
        let n = caps::lookup(item)
            .map_err(|e| err(format!("{e}; 'fcap list' shows every capability")))?;
        set = set | CapSet::single(n);
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(s: &str) -> GrantSpec {
        parse_grant(s).unwrap()
    }

    #[test]
    fn blanks_after_commas_are_accepted_by_grant_like_revoke() {
        let g = parse_grant("net_admin, net_raw").unwrap();
        assert_eq!(g.caps, parse_revoke("net_admin, net_raw").unwrap());
        assert!(parse_grant("net_raw =ep").is_err());
        assert!(parse_grant("net_raw=ep cap_kill=p").is_err());
    }

    #[test]
    fn every_flag_spelling_users_write_for_setcap_is_accepted() {
        let ep = GrantSpec {
            caps: CapSet::single(13),
            permitted: true,
            inheritable: false,
            effective: true,
        };
        for s in [
            "net_raw",
            "cap_net_raw",
            "CAP_NET_RAW",
            "cap_net_raw=ep",
            "cap_net_raw+ep",
            "cap_net_raw=+ep",
            "cap_net_raw=pe",
            "13",
            "0xd",
            "015",
        ] {
            assert_eq!(g(s), ep, "{s}");
        }
        let two = g("net_admin,net_raw=eip");
        assert_eq!(two.caps, CapSet::single(12) | CapSet::single(13));
        assert!(two.effective && two.inheritable && two.permitted);
        let p = g("cap_setuid=p");
        assert!(p.permitted && !p.effective && !p.inheritable);
        assert_eq!(g("all").caps, CapSet::all());
        assert_eq!(
            g("net_admin,net_raw=eip").to_string(),
            "cap_net_admin,cap_net_raw=eip"
        );
    }

    #[test]
    fn bad_grant_specs_say_what_is_wrong() {
        let e = |s: &str| parse_grant(s).unwrap_err().to_string();
        assert!(e("").starts_with("empty capability list"));
        assert!(e("=ep").starts_with("empty capability list"));
        assert!(e("net_raw,,chown").contains("empty item"));
        assert!(e("net_rw").contains("did you mean 'cap_net_raw'"));
        assert!(e("64").contains("out of range"));
        assert!(e("0x40=p").contains("out of range"));
        assert!(e("net_raw=e").contains("'e' alone grants nothing"));
        assert!(e("net_raw=").contains("no flags"));
        assert!(e("net_raw-ep").contains("fcap revoke"));
        assert!(e("net_raw=ep-i").contains("fcap set"));
        assert!(e("net_raw=x").contains("unknown flag 'x'"));
        assert!(e("cap_a=ep cap_b=p").contains("fcap set"));
    }

    #[test]
    fn revoke_takes_lists_and_all() {
        assert_eq!(parse_revoke("all"), Ok(CapSet(u64::MAX)));
        assert_eq!(
            parse_revoke("chown,13"),
            Ok(CapSet::single(0) | CapSet::single(13))
        );
        assert!(
            parse_revoke("net_raw=ep")
                .unwrap_err()
                .0
                .contains("no flags")
        );
        assert!(parse_revoke("").is_err());
        assert!(parse_revoke("99").unwrap_err().0.contains("out of range"));
    }
}
