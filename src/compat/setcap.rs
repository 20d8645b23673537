//! `setcap` as libcap 2.66 runs it (libcap.md §3.1, setcap-compat.md §2).
//!
//! The arguments are read strictly left to right, without getopt: `-q`, `-v` and
//! `-n ROOTID` are sticky and apply to every later pair; anything else is a capability
//! text (`-r` and `-` included), and the next argument is its file. Each pair is done
//! before the next is read, so the first failure exits 1 with earlier pairs written.

use super::{fail, license, quoted, raw};
use crate::filecaps::FileCaps;
use crate::text::{self, CapText};
use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

const USAGE: &str =
    "usage: setcap [-h] [-q] [-v] [-n ROOTID] (-r|-|CAPS) FILE [ ... (-r|-|CAPS) FILE ]";

/// The help (`setcap -h`), on standard error as libcap prints it.
fn help() -> String {
    format!(
        "setcap (fcap {version}): a drop-in for libcap 2.66's setcap, built into fcap.

{USAGE}

  CAPS         capability text as cap_from_text(3) reads it, e.g. cap_net_raw+ep
  -r           remove the file's capabilities
  -            read CAPS from standard input (up to an empty line or end of input)
  -q           quiet: no prompt for -, no output for -v
  -v           verify: compare the file with CAPS, write nothing; exit 1 at the
               first file that differs
  -n ROOTID    write a namespaced (v3) value bound to this user-namespace root uid
               (not 0)
  -h           this help, exit status 0

FILE must be a regular file; a symlink is refused. -q, -v and -n apply to every
pair after them. Exit status: 0 when every pair succeeded, else 1.

This is fcap's setcap-compatible mode: the same arguments, output, exit status and
bytes on disk as libcap's setcap. fcap's own commands (grant and revoke single
capabilities, follow symlinks, verify what a process gets): run 'fcap --help'.
",
        version = env!("CARGO_PKG_VERSION")
    )
}

/// What one pair asks for: a parsed text, or `-r`.
enum Want {
    Text(CapText),
    Remove,
}

/// Run setcap with its arguments (without the program name).
pub fn run(args: &[OsString], out: &mut dyn Write) -> anyhow::Result<u8> {
    if args.is_empty() {
        return fail(format!(
            "setcap: nothing to do; {USAGE} (setcap -h for help)"
        ));
    }
    let (mut quiet, mut verify, mut rootid) = (false, false, 0u32);
    let mut raised = false;
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_bytes();
        i += 1;
        match arg {
            b"-q" => {
                quiet = true;
                continue;
            }
            b"--license" => return license(out, "setcap"),
            b"-h" => {
                eprint!("{}", help());
                return Ok(0);
            }
            b"-v" => {
                verify = true;
                continue;
            }
            b"-n" => {
                let Some(value) = args.get(i) else {
                    return fail(
                        "setcap: -n needs a ROOTID, the uid (not 0) that owns the user namespace",
                    );
                };
                i += 1;
                match parse_rootid(value.as_bytes()) {
                    Some(r) => rootid = r,
                    None => {
                        return fail(format!(
                            "setcap: bad ROOTID for -n: {}; want a positive integer (a uid other than 0)",
                            quoted(value)
                        ));
                    }
                }
                continue;
            }
            _ => {}
        }
        let want = if arg == b"-r" {
            Want::Remove
        } else {
            let text = if arg == b"-" {
                match read_stdin(quiet) {
                    Stdin::Text(t) => t,
                    Stdin::Empty => {
                        return fail(format!(
                            "setcap: no capability text on standard input for '-'; {USAGE}"
                        ));
                    }
                    Stdin::Error(e) => {
                        return fail(format!("setcap: cannot read standard input: {e}"));
                    }
                }
            } else {
                String::from_utf8_lossy(arg).into_owned()
            };
            match text::parse(&text) {
                Ok(t) => Want::Text(t),
                Err(e) => {
                    return fail(format!(
                        "setcap: invalid capability text '{}': {e}; setcap -h for help",
                        text.trim().escape_debug()
                    ));
                }
            }
        };
        let Some(file) = args.get(i) else {
            return fail(format!(
                "setcap: missing the file after '{}'; {USAGE}",
                String::from_utf8_lossy(arg).escape_debug()
            ));
        };
        i += 1;
        if verify {
            if !check(file, &want, rootid, quiet, out)? {
                return Ok(1);
            }
            continue;
        }
        if !raised {
            // libcap raises CAP_SETFCAP once, before its first write (and even for -r).
            if let Err(e) = crate::sys::raise_effective(crate::caps::CAP_SETFCAP) {
                return fail(format!(
                    "setcap: cannot raise CAP_SETFCAP ({}): writing file capabilities needs it; run as root, e.g. with sudo",
                    crate::error::strerror(&e)
                ));
            }
            raised = true;
        }
        if let Err(e) = write(file, &want, rootid) {
            return fail(format!("setcap: {e:#}"));
        }
    }
    Ok(0)
}

/// `-n`'s argument as setcap reads it: C's `strtoul(s, &end, 0)`, refused when it
/// starts with '-', converts nothing, leaves junk or is 0, then cast to a 32-bit uid
/// (so 4294967296 becomes 0: a plain v2 value, as with libcap).
fn parse_rootid(s: &[u8]) -> Option<u32> {
    if s.first() == Some(&b'-') {
        return None;
    }
    let (v, rest) = strtoul(s)?;
    (rest.is_empty() && v != 0).then_some(v as u32)
}

/// C's `strtoul(s, &end, 0)` in the C locale: leading spaces, a sign, a base prefix,
/// saturation at `u64::MAX`, and wrapping negation. `None` when nothing converts.
fn strtoul(s: &[u8]) -> Option<(u64, &[u8])> {
    let mut i = s
        .iter()
        .take_while(|c| matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
        .count();
    let negative = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let at = |k: usize| s.get(k).copied().unwrap_or(0);
    let (radix, start) =
        if at(i) == b'0' && (at(i + 1) | 0x20) == b'x' && at(i + 2).is_ascii_hexdigit() {
            (16, i + 2)
        } else if at(i) == b'0' {
            (8, i)
        } else {
            (10, i)
        };
    let digits = s[start.min(s.len())..]
        .iter()
        .take_while(|c| (**c as char).is_digit(radix))
        .count();
    if digits == 0 {
        return None;
    }
    let end = start + digits;
    let mut v: u64 = 0;
    let mut overflow = false;
    for c in &s[start..end] {
        let d = u64::from((*c as char).to_digit(radix).unwrap_or(0));
        match v
            .checked_mul(u64::from(radix))
            .and_then(|x| x.checked_add(d))
        {
            Some(x) => v = x,
            None => overflow = true,
        }
    }
    let v = if overflow {
        u64::MAX
    } else if negative {
        v.wrapping_neg()
    } else {
        v
    };
    Some((v, &s[end..]))
}

enum Stdin {
    Text(String),
    Empty,
    Error(std::io::Error),
}

/// libcap's `read_caps`: `read(0)` into a 2048-byte buffer until end of input or a
/// chunk that starts with a newline (an empty line typed at a terminal). A pipe or
/// file usually arrives in one chunk, so its newlines just separate clauses. Reads
/// the descriptor directly: a buffered reader would take input meant for a later `-`.
fn read_stdin(quiet: bool) -> Stdin {
    const MAX: usize = 2048;
    if !quiet {
        eprintln!(
            "fcap: setcap: reading capability text for the file from standard input; end with an empty line or end of input"
        );
    }
    let mut buf = [0u8; MAX];
    let mut len = 0;
    while len < MAX {
        // SAFETY: the pointer and length describe the unused tail of `buf`.
        let n = unsafe { libc::read(0, buf[len..].as_mut_ptr().cast(), MAX - len) };
        let n = match usize::try_from(n) {
            Ok(n) => n,
            Err(_) => return Stdin::Error(std::io::Error::last_os_error()),
        };
        if n == 0 || buf[len] == b'\n' {
            break;
        }
        len += n;
    }
    if len == 0 {
        return Stdin::Empty;
    }
    // cap_from_text reads a C string: it ends at the first NUL.
    let text = buf[..len].split(|b| *b == 0).next().unwrap_or_default();
    Stdin::Text(String::from_utf8_lossy(text).into_owned())
}

/// `-v`: compare the file (symlinks followed, as libcap's `cap_get_file` does; an
/// unreadable or missing value counts as empty) with the wanted sets. Prints the OK
/// or differs line unless quiet; returns whether they match.
fn check(
    file: &OsStr,
    want: &Want,
    rootid: u32,
    quiet: bool,
    out: &mut dyn Write,
) -> anyhow::Result<bool> {
    let want = match want {
        Want::Text(t) => *t,
        Want::Remove => CapText::default(),
    };
    // libcap compares the file's rootid with the -n in force, even for -r.
    let want_root = rootid;
    let have = crate::sys::get(Path::new(file))
        .ok()
        .flatten()
        .and_then(|v| FileCaps::decode(&v).ok());
    let got_root = have.and_then(|c| c.rootid).unwrap_or(0);
    let got = have.map(|c| c.as_text_sets()).unwrap_or_default();
    let differs = [
        (got.permitted != want.permitted, "p"),
        (got.inheritable != want.inheritable, "i"),
        (got.effective != want.effective, "e"),
    ];
    let same = differs.iter().all(|(d, _)| !d) && got_root == want_root;
    if quiet {
        return Ok(same);
    }
    if same {
        out.write_all(raw(file))?;
        out.write_all(b": OK\n")?;
        return Ok(true);
    }
    if got_root != want_root {
        // libcap prints both with %d.
        write!(
            out,
            "nsowner[got={}, want={}],",
            got_root as i32, want_root as i32
        )?;
    }
    out.write_all(raw(file))?;
    let flags: String = differs
        .iter()
        .filter(|(d, _)| *d)
        .map(|(_, f)| *f)
        .collect();
    writeln!(out, " differs in [{flags}]")?;
    Ok(false)
}

/// Write one pair: the value `cap_set_file` stores (v2, or v3 with a nonzero rootid),
/// or remove it for `-r`, where a file without capabilities is an error.
fn write(file: &OsStr, want: &Want, rootid: u32) -> anyhow::Result<()> {
    let path = Path::new(file);
    let value = match want {
        Want::Remove => None,
        Want::Text(t) => {
            let fc = FileCaps::from_text_sets(t, (rootid != 0).then_some(rootid)).map_err(|m| {
                anyhow::anyhow!("cannot store these capabilities in {}: {m}", quoted(file))
            })?;
            Some(fc.encode())
        }
    };
    crate::write::put_exact(path, value.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rootids_parse_like_setcap() {
        // Measured with libcap 2.66's setcap on this machine.
        for (s, want) in [
            ("5", Some(5)),
            ("0x10", Some(16)),
            ("010", Some(8)),
            (" 5", Some(5)),
            ("\t7", Some(7)),
            ("+5", Some(5)),
            (" -5", Some(4_294_967_291)),
            ("4294967296", Some(0)),
            ("99999999999", Some(1_215_752_191)),
            ("18446744073709551616", Some(u32::MAX)),
            ("0", None),
            ("00", None),
            ("0x0", None),
            (" 0", None),
            ("-0", None),
            ("-5", None),
            ("", None),
            (" ", None),
            ("abc", None),
            ("0x", None),
            ("08", None),
            ("1x", None),
            ("5 ", None),
            ("1 2", None),
            ("0x1g", None),
        ] {
            assert_eq!(parse_rootid(s.as_bytes()), want, "-n {s:?}");
        }
    }
}
