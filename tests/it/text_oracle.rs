//! The libcap text grammar and printer, differential against libcap's own setcap and
//! getcap: for hundreds of generated expressions (valid and invalid), fcap must accept
//! exactly what setcap accepts, print exactly what getcap prints, and store exactly the
//! bytes setcap stores.

use crate::util::*;
use fcap::filecaps::FileCaps;

/// A small deterministic generator (xorshift64*), so a failure reproduces.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

fn random_case(r: &mut Rng, s: &str) -> String {
    match r.below(6) {
        0 => s.to_uppercase(),
        1 => s
            .chars()
            .map(|c| {
                if r.below(2) == 0 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect(),
        _ => s.to_string(),
    }
}

/// One capability item as users (and fuzzers) write them.
fn item(r: &mut Rng, wild: bool) -> String {
    match r.below(if wild { 12 } else { 10 }) {
        0..=5 => {
            let n = fcap::caps::NAMES[r.below(41)];
            random_case(r, n)
        }
        6 => r.pick(&["all", "ALL", "All"]).to_string(),
        7 => format!("{}", r.below(if wild { 70 } else { 64 })),
        8 => format!("0x{:x}", r.below(if wild { 70 } else { 64 })),
        9 => format!("0{:o}", r.below(if wild { 70 } else { 64 })),
        10 => r
            .pick(&[
                "net_raw",
                "cap_",
                "cap_chow",
                "cap_chownx",
                "cap_41",
                "allx",
                "_",
                "cap_chown2",
                "08",
                "0x",
                "cap-chown",
            ])
            .to_string(),
        _ => fcap::caps::NAMES[r.below(41)].to_string(),
    }
}

fn flags(r: &mut Rng, wild: bool) -> String {
    let n = r.below(4) + usize::from(!wild);
    let pool: &[&str] = if wild {
        &["e", "i", "p", "e", "i", "p", "E", "x"]
    } else {
        &["e", "i", "p"]
    };
    (0..n).map(|_| r.pick(pool)).collect()
}

/// `wild` clauses may hold anything; tame ones are mostly valid, so both sides of
/// the grammar are exercised in earnest.
fn clause(r: &mut Rng, wild: bool) -> String {
    let mut s = String::new();
    // Sometimes no list at all ("=ep").
    if r.below(6) != 0 {
        let n = 1 + r.below(3);
        s = (0..n).map(|_| item(r, wild)).collect::<Vec<_>>().join(",");
        if wild && r.below(30) == 0 {
            s.push(',');
        }
    }
    let listed = !s.is_empty();
    let first = if wild {
        r.pick(&["=", "=", "+", "-", "=+", "=-", ":", "=="])
    } else if listed {
        r.pick(&["=", "=", "+", "-", "=+", "=-"])
    } else {
        "="
    };
    s.push_str(first);
    s.push_str(&flags(r, wild));
    for _ in 0..r.below(3) {
        if !wild && !listed {
            break;
        }
        s.push_str(if wild {
            r.pick(&["+", "-", "="])
        } else {
            r.pick(&["+", "-"])
        });
        s.push_str(&flags(r, wild));
    }
    s
}

pub fn expression(r: &mut Rng) -> String {
    let wild = r.below(5) < 2;
    let n = r.below(4);
    let sep = [" ", "  ", "\t", " \n "];
    let mut parts = Vec::new();
    for _ in 0..n {
        parts.push(clause(r, wild));
    }
    let mut s = parts.join(sep[r.below(sep.len())]);
    if r.below(8) == 0 {
        s = format!(" {s} ");
    }
    s
}

/// setcap treats these arguments as options, not as text.
fn is_setcap_option(s: &str) -> bool {
    matches!(s, "-r" | "-" | "-q" | "-v" | "-n" | "-h" | "--license")
        || s.trim().is_empty() && s.is_empty()
}

#[test]
fn text_grammar_printer_and_bytes_match_libcap_on_generated_expressions() {
    require_root();
    let d = tempdir();
    let f = copy_prog(d.path(), "target");
    let mut r = Rng::new(0x5eed_f0ca);
    let mut exprs: Vec<String> = (0..700).map(|_| expression(&mut r)).collect();
    // Fixed cases that exercise every documented corner.
    exprs.extend(
        [
            "",
            " ",
            "=",
            "=ep",
            "all=ep",
            "cap_chown=ep cap_net_raw=p",
            "cap_chown=p cap_net_raw=ep",
            "=ep cap_chown-e",
            "cap_chown=e",
            "=eip cap_chown-ip",
            "cap_chown+e-e+p",
            "41=ep",
            "all,41=p",
            "41,all=p",
            "63=i",
            "64=p",
            "0x29=p",
            "051=ep",
            "08=p",
            "cap_chown,cap_kill=ep",
            "CAP_NET_RAW=ep",
            "=i cap_setfcap=",
            "cap_chown=ep=i",
        ]
        .map(String::from),
    );
    let (mut accepted, mut rejected) = (0, 0);
    for e in exprs.iter().filter(|e| !is_setcap_option(e)) {
        // Start from a known value so a rejected write is visible as "unchanged".
        set_raw_xattr(&f, &FileCaps::EMPTY.encode()).unwrap();
        let libcap = setcap(&[os(e), f.as_os_str()]);
        let ours = fcap::text::parse(e)
            .map_err(|err| err.to_string())
            .and_then(|t| FileCaps::from_text_sets(&t, None).map_err(|err| err.to_string()));
        match ours {
            Ok(fc) => {
                assert_eq!(
                    libcap.code(),
                    0,
                    "fcap accepts {e:?} but setcap refused: {}",
                    libcap.stderr()
                );
                assert_eq!(raw_xattr(&f).unwrap(), fc.encode(), "bytes for {e:?}");
                let want = getcap(&[f.as_os_str()]);
                assert_eq!(
                    format!("{} {}\n", f.display(), fc.to_text()),
                    want,
                    "text for {e:?}"
                );
                accepted += 1;
            }
            Err(why) => {
                assert_ne!(
                    libcap.code(),
                    0,
                    "fcap refuses {e:?} ({why}) but setcap accepted it"
                );
                assert_eq!(raw_xattr(&f).unwrap(), FileCaps::EMPTY.encode());
                rejected += 1;
            }
        }
    }
    // The generator must exercise both sides in earnest.
    assert!(
        accepted >= 150 && rejected >= 150,
        "accepted {accepted}, rejected {rejected}"
    );
}

#[test]
fn namespaced_values_match_setcap_n() {
    require_root();
    let d = tempdir();
    let f = copy_prog(d.path(), "target");
    for (rootid, text) in [
        (1000u32, "cap_chown,cap_kill=ep"),
        (1, "all=ep"),
        (65534, "cap_net_raw=p cap_kill=i"),
    ] {
        setcap(&[os("-n"), os(&rootid.to_string()), os(text), f.as_os_str()]).ok();
        let fc = FileCaps::from_text(text, Some(rootid)).unwrap();
        assert_eq!(raw_xattr(&f).unwrap(), fc.encode());
        assert_eq!(
            getcap(&[os("-n"), f.as_os_str()]),
            format!("{} {} [rootid={rootid}]\n", f.display(), fc.to_text())
        );
    }
}
