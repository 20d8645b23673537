//! libcap's capability text: `cap_from_text` parsed exactly and `cap_to_text` printed
//! exactly, byte for byte as libcap 2.66 does (shared spec: libcap.md §1 and §2).
//!
//! Both work on a process-style triple of sets ([`CapText`]): the file-specific rule
//! (one effective flag) is applied later, in [`crate::filecaps`].

use crate::caps::{self, CapSet};
use std::fmt;

/// The three sets a libcap text describes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CapText {
    pub effective: CapSet,
    pub inheritable: CapSet,
    pub permitted: CapSet,
}

/// Why a text was refused. libcap itself only says EINVAL; we say where and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextError {
    /// Byte offset in the input where parsing stopped.
    pub offset: usize,
    pub reason: String,
}

impl fmt::Display for TextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at offset {}", self.reason, self.offset)
    }
}

impl std::error::Error for TextError {}

// libcap's flag values: the 3-bit "state" of one capability.
const EFF: u8 = 1;
const PER: u8 = 2;
const INH: u8 = 4;

/// C's `isspace` in the C locale.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Parse libcap text exactly as `cap_from_text` does, with the running kernel's
/// capability count deciding what `all` and a list-less clause cover.
pub fn parse(text: &str) -> Result<CapText, TextError> {
    parse_with_count(text, caps::kernel_cap_count())
}

/// [`parse`] for a given kernel capability count (tests use other counts).
pub fn parse_with_count(text: &str, cap_count: u32) -> Result<CapText, TextError> {
    let s = text.as_bytes();
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let bad = |offset: usize, reason: &str| TextError {
        offset,
        reason: reason.to_string(),
    };
    let all = CapSet::first(cap_count);
    let mut res = CapText::default();
    let mut i = 0;
    loop {
        while is_space(at(i)) {
            i += 1;
        }
        if i >= s.len() {
            return Ok(res);
        }
        // The list of capabilities this clause talks about.
        let mut list = CapSet::EMPTY;
        let listed;
        let c = at(i);
        if c.is_ascii_alphanumeric() || c == b'_' {
            loop {
                if is_all(&s[i..]) {
                    // `all` replaces what was listed so far: `41,all=p` drops 41.
                    list = all;
                    i += 3;
                } else {
                    let (n, len) = lookup_name(&s[i..]).ok_or_else(|| {
                        // Name the word and what was probably meant.
                        let run = s[i..]
                            .iter()
                            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                            .count();
                        let word = String::from_utf8_lossy(&s[i..i + run]);
                        bad(
                            i,
                            &format!(
                                "unknown capability name or number '{word}'{}",
                                caps::did_you_mean(&caps::suggest(&word))
                            ),
                        )
                    })?;
                    list = list | CapSet::single(n);
                    i += len;
                }
                if at(i) != b',' {
                    break;
                }
                i += 1;
                let c = at(i);
                if !(c.is_ascii_alphanumeric() || c == b'_') {
                    return Err(bad(i, "expected a capability name after ','"));
                }
            }
            listed = true;
        } else if c == b'+' || c == b'-' {
            return Err(bad(
                i,
                "'+' and '-' need a list of capabilities before them",
            ));
        } else {
            // "=ep" alone means every capability the kernel knows.
            list = all;
            listed = false;
        }

        // The first operator of the clause: '=', '+', '-', or the "=+" / "=-" forms.
        #[derive(PartialEq, Clone, Copy)]
        enum Op {
            Assign,
            AssignAdd,
            AssignSub,
            Add,
            Sub,
        }
        let mut op = match at(i) {
            b'=' if matches!(at(i + 1), b'+' | b'-') => {
                if !listed {
                    return Err(bad(i, "'=+' and '=-' need a list of capabilities"));
                }
                i += 2;
                if at(i - 1) == b'+' {
                    Op::AssignAdd
                } else {
                    Op::AssignSub
                }
            }
            b'=' => {
                i += 1;
                Op::Assign
            }
            b'+' => {
                i += 1;
                Op::Add
            }
            b'-' => {
                i += 1;
                Op::Sub
            }
            0 => return Err(bad(i, "expected '=', '+' or '-' after the capability list")),
            _ => return Err(bad(i, "expected '=', '+' or '-'")),
        };

        // The action loop: flags accumulate and the operation is re-applied after each
        // one, exactly like libcap, so "cap_chown+e-e+p" is accepted (= cap_chown=p).
        let mut flags = 0u8;
        loop {
            let c = at(i);
            if c != 0 && !is_space(c) {
                flags |= match c {
                    b'e' => EFF,
                    b'i' => INH,
                    b'p' => PER,
                    _ => return Err(bad(i, "expected a flag 'e', 'i' or 'p'")),
                };
                i += 1;
            } else if op != Op::Assign {
                return Err(bad(i, "only '=' may be followed by no flags"));
            }
            match op {
                Op::Assign | Op::AssignAdd | Op::AssignSub => {
                    res.effective = res.effective - list;
                    res.permitted = res.permitted - list;
                    res.inheritable = res.inheritable - list;
                    if op == Op::AssignSub {
                        apply(&mut res, list, flags, false);
                    } else {
                        apply(&mut res, list, flags, true);
                    }
                }
                Op::Add => apply(&mut res, list, flags, true),
                Op::Sub => apply(&mut res, list, flags, false),
            }
            if matches!(at(i), b'+' | b'-') {
                if !listed {
                    return Err(bad(
                        i,
                        "'+' and '-' need a list of capabilities before them",
                    ));
                }
                flags = 0;
                op = if at(i) == b'+' { Op::Add } else { Op::Sub };
                i += 1;
                if !at(i).is_ascii_alphabetic() {
                    return Err(bad(i, "expected a flag 'e', 'i' or 'p'"));
                }
            }
            let c = at(i);
            if c == 0 || is_space(c) {
                break;
            }
        }
    }
}

fn apply(res: &mut CapText, list: CapSet, flags: u8, raise: bool) {
    let f = |set: &mut CapSet, bit: u8| {
        if flags & bit != 0 {
            *set = if raise { *set | list } else { *set - list };
        }
    };
    f(&mut res.effective, EFF);
    f(&mut res.permitted, PER);
    f(&mut res.inheritable, INH);
}

/// libcap's `namcmp(str, "all")`: case-insensitive, and not followed by a name character.
fn is_all(s: &[u8]) -> bool {
    s.len() >= 3
        && s[..3].eq_ignore_ascii_case(b"all")
        && !s
            .get(3)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// libcap's `lookupname`: a number (`strtoul(…, 0)`, < 64) or the longest run of
/// `[A-Za-z_]` matched case-insensitively against the whole name table. Returns the
/// capability and how many bytes were consumed.
fn lookup_name(s: &[u8]) -> Option<(u32, usize)> {
    if s.first()?.is_ascii_digit() {
        // The run is ASCII, so it is valid UTF-8 by construction.
        let run = s.iter().take_while(|c| c.is_ascii_alphanumeric()).count();
        let text = std::str::from_utf8(&s[..run]).ok()?;
        let (n, rest) = caps::parse_c_ulong(text)?;
        if n >= u64::from(caps::MAX_BITS) {
            return None;
        }
        return Some((n as u32, run - rest.len()));
    }
    let len = s
        .iter()
        .take_while(|c| c.is_ascii_alphabetic() || **c == b'_')
        .count();
    let word = &s[..len];
    caps::NAMES
        .iter()
        .position(|n| n.as_bytes().eq_ignore_ascii_case(word))
        .map(|n| (n as u32, len))
}

fn flag_str(state: u8) -> &'static str {
    // Always in the order e, i, p, whatever the input order was.
    ["", "e", "p", "ep", "i", "ei", "ip", "eip"][usize::from(state & 7)]
}

/// Canonical text, exactly as `cap_to_text` prints it for the running kernel.
pub fn to_text(t: &CapText) -> String {
    to_text_with_count(t, caps::kernel_cap_count())
}

/// [`to_text`] for a given kernel capability count.
pub fn to_text_with_count(t: &CapText, cap_count: u32) -> String {
    let cmb = cap_count.min(caps::MAX_BITS);
    let state = |n: u32| {
        u8::from(t.effective.has(n)) * EFF
            + u8::from(t.permitted.has(n)) * PER
            + u8::from(t.inheritable.has(n)) * INH
    };
    let mut histo = [0u32; 8];
    for n in 0..cmb {
        histo[usize::from(state(n))] += 1;
    }
    // The most common state becomes the "=" base; on a tie the smallest state wins
    // (libcap: `for (m=t=7; t--;) if (histo[t] >= histo[m]) m = t;`).
    let mut m = 7usize;
    for s in (0..7).rev() {
        if histo[s] >= histo[m] {
            m = s;
        }
    }
    let mut out = format!("={}", flag_str(m as u8));
    for s in (0..8usize).rev() {
        if s == m || histo[s] == 0 {
            continue;
        }
        let names: Vec<String> = (0..cmb)
            .filter(|n| usize::from(state(*n)) == s)
            .map(caps::name)
            .collect();
        let add = (s & !m) as u8;
        let sub = (m & !s) as u8;
        let mut op = '+';
        if add != 0 && out == "=" {
            // "= foo+ep" is shortened to "foo=ep" (first group only, base state 0).
            out.clear();
            op = '=';
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&names.join(","));
        if add != 0 {
            out.push(op);
            out.push_str(flag_str(add));
        }
        if sub != 0 {
            out.push('-');
            out.push_str(flag_str(sub));
        }
    }
    // Bits the kernel does not know are always listed with "+".
    for s in (1..8u8).rev() {
        let names: Vec<String> = (cmb..caps::MAX_BITS)
            .filter(|n| state(*n) == s)
            .map(caps::name)
            .collect();
        if !names.is_empty() {
            out.push(' ');
            out.push_str(&names.join(","));
            out.push('+');
            out.push_str(flag_str(s));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        to_text_with_count(&parse_with_count(s, 41).unwrap(), 41)
    }

    #[test]
    fn libcap_examples_print_exactly() {
        let cases = [
            ("cap_net_raw=p cap_chown=eip", "cap_chown=eip cap_net_raw+p"),
            (
                "cap_chown=e cap_kill=i cap_setuid=p cap_setgid=ep cap_fowner=ip cap_fsetid=ei cap_sys_admin=eip",
                "cap_sys_admin=eip cap_fowner+ip cap_fsetid+ei cap_kill+i cap_setgid+ep cap_setuid+p cap_chown+e",
            ),
            (
                "all=pe cap_chown-e cap_kill-pe",
                "=ep cap_chown-e cap_kill-ep",
            ),
            (
                "=ep cap_chown-e cap_kill-p cap_setuid+i",
                "=ep cap_setuid+i cap_chown-e cap_kill-p",
            ),
            ("=p cap_chown+e", "=p cap_chown+e"),
            ("=e cap_chown+p", "=e cap_chown+p"),
            ("=i cap_chown+ep", "=i cap_chown+ep"),
            ("=i cap_setfcap=", "=i cap_setfcap-i"),
            ("cap_setfcap=p cap_setfcap+i", "cap_setfcap=ip"),
            ("= cap_chown+iep cap_chown-i", "cap_chown=ep"),
            (
                "= cap_setfcap,cap_chown+iep cap_chown-i",
                "cap_setfcap=eip cap_chown+ep",
            ),
            (
                "cap_setfcap,cap_chown=iep cap_chown-i",
                "cap_setfcap=eip cap_chown+ep",
            ),
            ("=i =p", "=p"),
            ("all+pie", "=eip"),
            ("all=p+ie-e", "=ip"),
            ("=ep cap_chown-e 63+ip", "=ep cap_chown-e 63+ip"),
            ("cap_chown=p 41+e", "cap_chown=p 41+e"),
            (
                "cap_setpcap=ep cap_chown=i 40,41=p",
                "cap_chown=i cap_setpcap+ep cap_checkpoint_restore+p 41+p",
            ),
            ("all=eip 41,63-eip", "=eip"),
            ("", "="),
            ("  \t\n ", "="),
            ("cap_chown+e-e+p", "cap_chown=p"),
            ("CAP_CHOWN,Cap_Kill=ep", "cap_chown,cap_kill=ep"),
            ("0x10,041=ep", "cap_sys_module,cap_mac_admin=ep"),
            ("all,41=p", "=p 41+p"),
            ("41,all=p", "=p"),
        ];
        for (input, want) in cases {
            assert_eq!(canon(input), want, "input {input:?}");
        }
    }

    #[test]
    fn histogram_ties_go_to_the_smaller_state() {
        let list = |r: std::ops::Range<u32>| r.map(caps::name).collect::<Vec<_>>().join(",");
        assert_eq!(
            canon(&format!("{}=p", list(0..21))),
            format!("=p {}-p", list(21..41))
        );
        assert_eq!(
            canon(&format!("{}=p", list(0..20))),
            format!("{}=p", list(0..20))
        );
        assert_eq!(
            canon(&format!("{}=p {}=i", list(0..20), list(20..40))),
            format!("=p {}+i-p cap_checkpoint_restore-p", list(20..40))
        );
    }

    #[test]
    fn output_depends_on_the_kernel_cap_count() {
        let t = parse_with_count("all=ep", 38).unwrap();
        assert_eq!(to_text_with_count(&t, 38), "=ep");
        assert_eq!(
            to_text_with_count(&t, 41),
            "=ep cap_perfmon,cap_bpf,cap_checkpoint_restore-ep"
        );
        let t = parse_with_count("cap_bpf=ep", 38).unwrap();
        assert_eq!(to_text_with_count(&t, 38), "= cap_bpf+ep");
        let t = parse_with_count("all=ep", 43).unwrap();
        assert_eq!(to_text_with_count(&t, 41), "=ep 41,42+ep");
        assert_eq!(
            to_text_with_count(&parse_with_count("43=ep", 43).unwrap(), 43),
            "= 43+ep"
        );
    }

    #[test]
    fn libcap_rejects_these() {
        for bad in [
            "cap_chown",
            "cap_chow=ep",
            "cap_chownx=ep",
            "cap_=ep",
            "_=ep",
            "allx=ep",
            "cap_41=ep",
            "cap_chown2=ep",
            "+ep",
            "-ep",
            "=e+p",
            "=ep-e",
            "cap_chown+e=p",
            "cap_chown=ep=i",
            "cap_chown+",
            "cap_chown-",
            "=+p",
            "cap_chown=EP",
            "cap_chown:ep",
            "cap_chown==ep",
            "64=ep",
            "08=ep",
            "cap_chown,=ep",
            "cap_chown, cap_kill=ep",
            "cap_chown=+",
            "cap_chown=x",
            "cap_chown+e+",
            "é=ep",
        ] {
            assert!(
                parse_with_count(bad, 41).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn every_output_reparses_to_itself() {
        for input in [
            "=ep cap_chown-e 63+ip",
            "cap_kill=ei cap_chown+ep",
            "=eip cap_sys_admin-i",
            "= 41+ep",
        ] {
            let once = canon(input);
            assert_eq!(canon(&once), once);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]

        /// Whatever parses prints to canonical text that parses to the same sets, and
        /// canonical text is a fixed point of print(parse(·)).
        #[test]
        fn parse_print_round_trip(s in "[a-zA-Z_0-9,=+ \\t-]{0,48}") {
            if let Ok(t) = parse_with_count(&s, 41) {
                let once = to_text_with_count(&t, 41);
                let again = parse_with_count(&once, 41);
                proptest::prop_assert_eq!(again.as_ref(), Ok(&t), "{:?} -> {:?}", s, once);
                proptest::prop_assert_eq!(to_text_with_count(&t, 41), once);
            }
        }

        /// Any set of three masks prints to text that parses back to the same masks.
        #[test]
        fn any_sets_round_trip(e: u64, i: u64, p: u64, count in 1u32..=64) {
            let t = CapText { effective: CapSet(e), inheritable: CapSet(i), permitted: CapSet(p) };
            let s = to_text_with_count(&t, count);
            proptest::prop_assert_eq!(parse_with_count(&s, count), Ok(t), "{}", s);
        }
    }
}
