//! How paths and colours reach a terminal, a pipe or a JSON consumer.
//!
//! **Path representation.** A file name may hold any byte but NUL and `/`. Printed raw,
//! a newline fakes a second line and an escape sequence drives the terminal. fcap
//! therefore prints every path in one escaped form, everywhere (human lines,
//! getcap-style lines, manifests, and the JSON `path` field):
//!
//! * a backslash is written `\\`;
//! * `\n`, `\t`, `\r` are written as those two-character escapes;
//! * every other control character (C0, DEL and the C1 range U+0080–U+009F) and every
//!   byte that is not valid UTF-8 is written `\xHH`, one escape per byte;
//! * a `#`, `{` or space at the very start of a (relative) path is written `\xHH`, so
//!   that a manifest line can never be read as a comment or as JSON, nor lose its
//!   first character to trimming (found by fuzzing the manifest parser);
//! * everything else, spaces and non-ASCII letters included, is written as it is.
//!
//! For the names people actually use this is the path itself, so lines stay
//! byte-identical to getcap's; [`unescape_path`] reverses it exactly.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};

/// Escape a path as described in the module docs.
pub fn escape_path(p: &Path) -> String {
    escape_bytes(p.as_os_str().as_bytes())
}

/// A path as one shell word, for a command line fcap suggests: as it is when it is
/// plain, else single-quoted (and escaped, so it is still one printable line).
pub fn shell_word(p: &Path) -> String {
    let s = escape_path(p);
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+,:@%=".contains(&b))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Escape raw bytes as described in the module docs.
pub fn escape_bytes(mut b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    if let Some(first @ (b'#' | b'{' | b' ')) = b.first() {
        let _ = write!(out, "\\x{first:02x}");
        b = &b[1..];
    }
    loop {
        match std::str::from_utf8(b) {
            Ok(s) => {
                escape_str_into(s, &mut out);
                return out;
            }
            Err(e) => {
                let (good, rest) = b.split_at(e.valid_up_to());
                // Valid by construction: `valid_up_to` says so.
                escape_str_into(std::str::from_utf8(good).unwrap_or_default(), &mut out);
                let bad = e.error_len().unwrap_or(rest.len());
                for byte in &rest[..bad] {
                    let _ = write!(out, "\\x{byte:02x}");
                }
                b = &rest[bad..];
            }
        }
    }
}

fn escape_str_into(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let mut buf = [0u8; 4];
                for byte in c.encode_utf8(&mut buf).as_bytes() {
                    let _ = write!(out, "\\x{byte:02x}");
                }
            }
            c => out.push(c),
        }
    }
}

/// Reverse [`escape_path`]. Fails on a dangling or unknown escape.
pub fn unescape_path(s: &str) -> Result<PathBuf, String> {
    let mut out = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        match b.get(i + 1) {
            Some(b'\\') => out.push(b'\\'),
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'r') => out.push(b'\r'),
            Some(b'x') => {
                let hex = s
                    .get(i + 2..i + 4)
                    .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()))
                    .ok_or("a \\x escape needs two hex digits")?;
                let v = u8::from_str_radix(hex, 16)
                    .map_err(|_| format!("bad \\x escape '\\x{hex}'"))?;
                out.push(v);
                i += 4;
                continue;
            }
            Some(c) => return Err(format!("unknown escape '\\{}'", *c as char)),
            None => return Err("trailing backslash".to_string()),
        }
        i += 2;
    }
    if out.contains(&0) {
        return Err("a path cannot contain a NUL byte".to_string());
    }
    Ok(PathBuf::from(OsString::from_vec(out)))
}

/// `path` made absolute and cleaned of `.` and `..` without touching the filesystem.
pub fn lexical_absolute(path: &Path) -> Option<PathBuf> {
    let abs = std::path::absolute(path).ok()?;
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    Some(out)
}

/// True when resolving `path` to `real` (its canonical form) went through a symlink
/// worth showing: `./prog` and `/usr/bin/../bin/ls` did not, `node -> node-22` did.
pub fn via_symlink(path: &Path, real: &Path) -> bool {
    lexical_absolute(path).as_deref() != Some(real)
}

/// `--color auto|always|never`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour when stdout is a terminal and `NO_COLOR` is not set.
    #[default]
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Decide once, for stdout, and tell the `colored` crate.
    pub fn apply(self) -> bool {
        let on = match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            // https://no-color.org: any non-empty value disables colour.
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::stdout().is_terminal()
            }
        };
        colored::control::set_override(on);
        on
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_are_unchanged() {
        for p in ["/usr/bin/ping", "/tmp/a b/c=ep", "/tmp/ünïcödé"] {
            assert_eq!(escape_path(Path::new(p)), p);
        }
    }

    #[test]
    fn awkward_names_escape_and_round_trip() {
        let cases: &[(&[u8], &str)] = &[
            (b"a\nb", "a\\nb"),
            (b"a\tb\r", "a\\tb\\r"),
            (b"back\\slash", "back\\\\slash"),
            (b"esc\x1b[31m", "esc\\x1b[31m"),
            (b"bad\xff\xfeutf8", "bad\\xff\\xfeutf8"),
            ("c1\u{9b}".as_bytes(), "c1\\xc2\\x9b"),
            (b"del\x7f", "del\\x7f"),
            (b"#not-a-comment", "\\x23not-a-comment"),
            (b"{not-json", "\\x7bnot-json"),
            (b" lead", "\\x20lead"),
            (b"mid#{ dle", "mid#{ dle"),
        ];
        for (raw, esc) in cases {
            let p = PathBuf::from(OsString::from_vec(raw.to_vec()));
            assert_eq!(escape_path(&p), *esc);
            assert_eq!(unescape_path(esc).unwrap(), p);
        }
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_round_trip(raw in proptest::collection::vec(1u8..=255, 0..40)) {
            let p = PathBuf::from(OsString::from_vec(raw));
            let esc = escape_path(&p);
            proptest::prop_assert!(!esc.chars().any(char::is_control));
            proptest::prop_assert_eq!(unescape_path(&esc).unwrap(), p);
        }
    }

    #[test]
    fn dots_are_not_symlinks() {
        assert_eq!(
            lexical_absolute(Path::new("/a/./b/../c")),
            Some(PathBuf::from("/a/c"))
        );
        assert!(!via_symlink(
            Path::new("/usr/bin/../bin/ls"),
            Path::new("/usr/bin/ls")
        ));
        assert!(via_symlink(Path::new("/a/link"), Path::new("/a/target")));
    }

    #[test]
    fn bad_escapes_are_errors() {
        assert!(unescape_path("a\\").is_err());
        assert!(unescape_path("a\\q").is_err());
        assert!(unescape_path("a\\x1").is_err());
        assert!(unescape_path("a\\x00").is_err());
        assert!(unescape_path("a\\x+f").is_err());
    }
}
