//! Manifests: the list of files that must carry capabilities, and which ones.
//!
//! A manifest is exactly what `fcap read -r` prints (getcap's format), or what
//! `fcap read -r --json` prints; both may be mixed in one file:
//!
//! ```text
//! # comments and blank lines are ignored
//! /usr/bin/ping cap_net_raw=ep
//! /opt/my app/bin/server cap_net_bind_service=ep
//! /srv/odd\nname cap_chown=p
//! /ns/tool cap_chown=ep [rootid=1000]
//! {"path":"/usr/bin/mtr-packet","caps":"cap_net_raw=ep"}
//! ```
//!
//! * A path is written in fcap's one path representation ([`crate::output`]):
//!   backslash escapes for control characters, backslashes and invalid UTF-8, and
//!   spaces as they are.
//! * The capability text is the trailing run of libcap clauses. A path may contain
//!   spaces, so the split is chosen from the right: the leftmost split whose tail is
//!   valid text *printed canonically* (as `fcap read`/getcap print it) wins, which
//!   can only go wrong for a hand-written, non-canonical line whose path contains a
//!   space followed by something that looks like a clause (`/x =ep cap_kill+ep`).
//!   Use the JSON form for such names.
//! * An optional ` [rootid=N]` suffix (from `fcap read --rootid`) makes a v3 value.
//! * In the JSON form, `"caps": null` means "carries no capabilities" and an object
//!   with `"regular": false` (a directory or symlink listed by `read -v`) is skipped.

use crate::error::quote;
use crate::filecaps::FileCaps;
use crate::output::{escape_path, unescape_path};
use std::fmt;
use std::path::{Path, PathBuf};

/// Where a manifest line came from, for messages: `file:line`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub file: PathBuf,
    pub line: usize,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", escape_path(&self.file), self.line)
    }
}

/// One listed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: PathBuf,
    /// The value the file must carry; `None`: no `security.capability` at all.
    pub caps: Option<FileCaps>,
    pub source: Source,
}

/// A malformed manifest line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub source: Source,
    pub why: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.why)
    }
}

impl std::error::Error for ParseError {}

/// Parse a whole manifest; `file` is only used to name lines in errors. Every
/// malformed line is reported, not just the first.
pub fn parse(file: &Path, text: &[u8]) -> Result<Vec<Entry>, Vec<ParseError>> {
    let mut entries: Vec<Entry> = Vec::new();
    // First listing of each path, for the "listed twice" check.
    let mut first: std::collections::HashMap<PathBuf, usize> = Default::default();
    let mut errors = Vec::new();
    for (i, raw) in text.split(|b| *b == b'\n').enumerate() {
        let source = || Source {
            file: file.to_path_buf(),
            line: i + 1,
        };
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        match parse_line(raw) {
            Ok(None) => {}
            Ok(Some((path, caps))) => {
                let source = source();
                if let Some(prev) = first.get(&path).map(|&k| &entries[k])
                    && !same(prev.caps.as_ref(), caps.as_ref())
                {
                    errors.push(ParseError {
                        source,
                        why: format!(
                            "{} is already listed with other capabilities at line {}",
                            quote(&path),
                            prev.source.line
                        ),
                    });
                    continue;
                }
                first.entry(path.clone()).or_insert(entries.len());
                entries.push(Entry { path, caps, source });
            }
            Err(why) => errors.push(ParseError {
                source: source(),
                why,
            }),
        }
    }
    if errors.is_empty() {
        Ok(entries)
    } else {
        Err(errors)
    }
}

/// Read and parse a manifest file (`-` is standard input).
pub fn load(file: &Path) -> anyhow::Result<Vec<Entry>> {
    let text = if file == Path::new("-") {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut v)
            .map_err(|e| crate::error::io_at_path(file, &e, false))?;
        v
    } else {
        std::fs::read(file).map_err(|e| crate::error::io_at_path(file, &e, false))?
    };
    parse(file, &text).map_err(|errs| {
        let n = errs.len();
        let mut msg = errs
            .iter()
            .take(5)
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        if n > 5 {
            msg.push_str(&format!("; and {} more malformed lines", n - 5));
        }
        anyhow::anyhow!("{msg}")
    })
}

/// Load every manifest, reporting each unreadable or malformed one through `fail`
/// (a malformed manifest is skipped whole: applying half of it could leave a set of
/// programs half-privileged). A path listed again with other capabilities (in another
/// manifest) is an error too; its first listing is kept.
pub fn load_all(files: &[PathBuf], fail: &mut dyn FnMut(anyhow::Error)) -> Vec<Entry> {
    let mut all: Vec<Entry> = Vec::new();
    let mut seen: std::collections::HashMap<PathBuf, usize> = Default::default();
    for f in files {
        let entries = match load(f) {
            Ok(e) => e,
            Err(e) => {
                fail(e);
                continue;
            }
        };
        for e in entries {
            match seen.get(&e.path) {
                Some(&i) if same(all[i].caps.as_ref(), e.caps.as_ref()) => {}
                Some(&i) => fail(anyhow::anyhow!(
                    "{}: {} is already listed with other capabilities at {}",
                    e.source,
                    quote(&e.path),
                    all[i].source
                )),
                None => {
                    seen.insert(e.path.clone(), all.len());
                    all.push(e);
                }
            }
        }
    }
    all
}

/// The manifests of a system directory: every `*.caps` file in it, sorted by name.
/// A missing directory has none (the package hook runs on systems without one).
pub fn system_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(crate::error::io_at_path(dir, &e, false)),
    };
    let mut files = Vec::new();
    for ent in rd {
        let ent = ent.map_err(|e| crate::error::io_at_path(dir, &e, false))?;
        let p = ent.path();
        if p.extension().is_some_and(|x| x == "caps") {
            files.push(p);
        }
    }
    files.sort();
    Ok(files)
}

/// The default system manifest directory.
pub const SYSTEM_DIR: &str = "/etc/fcap.d";

/// Equal capabilities (ignoring the revision), or both absent.
pub fn same(a: Option<&FileCaps>, b: Option<&FileCaps>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.same_caps(b),
        (None, None) => true,
        _ => false,
    }
}

/// One manifest line for a file with capabilities, exactly as `fcap read -r --rootid`
/// prints it (so as getcap prints it, for ordinary names and v2 values).
pub fn line(path: &Path, caps: &FileCaps) -> String {
    let mut s = format!("{} {caps}", escape_path(path));
    if let Some(r) = caps.rootid
        && r != 0
        && r != u32::MAX
    {
        // getcap -n prints the rootid with %d.
        s.push_str(&format!(" [rootid={}]", r as i32));
    }
    s
}

type Parsed = Option<(PathBuf, Option<FileCaps>)>;

/// One line: `Ok(None)` for a blank line, a comment, or a JSON non-file.
fn parse_line(raw: &[u8]) -> Result<Parsed, String> {
    let Ok(text) = std::str::from_utf8(raw) else {
        return Err("not valid UTF-8 (write unusual bytes in paths as \\xHH)".to_string());
    };
    let trimmed = text.trim_start();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(None);
    }
    if trimmed.starts_with('{') {
        return parse_json(trimmed);
    }
    parse_text(text).map(Some)
}

fn parse_text(text: &str) -> Result<(PathBuf, Option<FileCaps>), String> {
    // Capability text comes last, so trailing blanks can only be noise.
    let (text, rootid) = split_rootid(text.trim_end())?;
    // Split points: every single space. Try the leftmost first, so that a path keeps
    // as little as possible only when nothing else fits.
    let spaces: Vec<usize> = text.match_indices(' ').map(|(i, _)| i).collect();
    let mut fallback = None;
    for &i in &spaces {
        let (path, tail) = (&text[..i], &text[i + 1..]);
        if path.is_empty() || tail.is_empty() || !tail.split(' ').all(looks_like_clause) {
            continue;
        }
        let Ok(caps) = FileCaps::from_text(tail, rootid) else {
            continue;
        };
        if caps.to_text() == tail {
            return Ok((unescape(path)?, Some(caps)));
        }
        if fallback.is_none() {
            fallback = Some((path, caps));
        }
    }
    if let Some((path, caps)) = fallback {
        return Ok((unescape(path)?, Some(caps)));
    }
    // Nothing parsed: say why as precisely as we can.
    match text.rsplit_once(' ') {
        None => Err(format!(
            "expected 'PATH CAPS' (e.g. '/usr/bin/ping cap_net_raw=ep'), found {text:?}"
        )),
        Some((_, last)) => match FileCaps::from_text(last, rootid) {
            Err(e) => Err(format!("{e:#}")),
            Ok(_) => Err(format!(
                "cannot split {text:?} into a path and capabilities"
            )),
        },
    }
}

/// A token that can be part of libcap text: names, commas, operators and flags.
fn looks_like_clause(t: &str) -> bool {
    !t.is_empty()
        && t.contains(['=', '+', '-'])
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_,=+-".contains(&b))
}

/// Strip a trailing ` [rootid=N]` (N printed with %d, so possibly negative).
fn split_rootid(text: &str) -> Result<(&str, Option<u32>), String> {
    let Some(start) = text.rfind(" [rootid=") else {
        return Ok((text, None));
    };
    let Some(num) = text[start + 9..].strip_suffix(']') else {
        return Ok((text, None));
    };
    let id = match num.parse::<i64>() {
        Ok(n) if (i64::from(i32::MIN)..=i64::from(u32::MAX)).contains(&n) => n as u32,
        _ => return Err(format!("bad rootid '{num}'")),
    };
    Ok((&text[..start], checked_rootid(id)?))
}

/// A rootid as a value to store: 0 is the initial namespace's root, i.e. a plain v2
/// value (getcap -n prints no suffix for it); 4294967295 (-1) is refused by the
/// kernel, and getcap never prints it (found by fuzzing).
fn checked_rootid(id: u32) -> Result<Option<u32>, String> {
    match id {
        0 => Ok(None),
        u32::MAX => Err("rootid 4294967295 (-1) is not a user id the kernel accepts".to_string()),
        id => Ok(Some(id)),
    }
}

fn unescape(path: &str) -> Result<PathBuf, String> {
    if path.is_empty() {
        // No file is named "": and it could not be printed back as a line.
        return Err("empty path".to_string());
    }
    unescape_path(path).map_err(|e| format!("bad path {path:?}: {e}"))
}

fn parse_json(text: &str) -> Result<Parsed, String> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    let Some(obj) = v.as_object() else {
        return Err("a JSON line must be an object".to_string());
    };
    if obj.get("regular") == Some(&serde_json::Value::Bool(false)) {
        return Ok(None);
    }
    let Some(path) = obj.get("path").and_then(|p| p.as_str()) else {
        return Err("a JSON line needs a string \"path\"".to_string());
    };
    let path = unescape(path)?;
    let rootid = match obj.get("rootid") {
        None | Some(serde_json::Value::Null) => None,
        Some(r) => checked_rootid(
            r.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| format!("bad \"rootid\" {r}"))?,
        )?,
    };
    let caps = match obj.get("caps") {
        Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => {
            Some(FileCaps::from_text(s, rootid).map_err(|e| format!("{e:#}"))?)
        }
        _ => return Err("a JSON line needs \"caps\": a string or null".to_string()),
    };
    Ok(Some((path, caps)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &str) -> (PathBuf, Option<FileCaps>) {
        parse_line(line.as_bytes()).unwrap().unwrap()
    }

    fn text_of(line: &str) -> (String, String) {
        let (p, c) = one(line);
        (p.display().to_string(), c.unwrap().to_text())
    }

    #[test]
    fn rootid_zero_is_v2_and_minus_one_is_refused() {
        let f = Path::new("m.caps");
        let e = parse(f, b"/x cap_kill=ep [rootid=0]\n").unwrap();
        assert_eq!(e[0].caps.and_then(|c| c.rootid), None);
        assert!(parse(f, b"/x cap_kill=ep [rootid=-1]\n").is_err());
        assert!(
            parse(
                f,
                b"{\"path\":\"/x\",\"caps\":\"cap_kill=ep\",\"rootid\":4294967295}\n"
            )
            .is_err()
        );
    }

    #[test]
    fn an_empty_path_is_refused_in_both_forms() {
        let f = Path::new("m.caps");
        let e = parse(f, b"{\"path\":\"\",\"caps\":\"cap_chown=ep\"}\n").unwrap_err();
        assert!(e[0].why.contains("empty path"), "{:?}", e);
        assert!(parse(f, b" cap_chown=ep\n").is_err());
    }

    #[test]
    fn getcap_lines_parse() {
        assert_eq!(
            text_of("/usr/bin/ping cap_net_raw=ep"),
            ("/usr/bin/ping".into(), "cap_net_raw=ep".into())
        );
        assert_eq!(
            text_of("/a b/c d cap_kill=ei cap_chown+ep"),
            ("/a b/c d".into(), "cap_kill=ei cap_chown+ep".into())
        );
        assert_eq!(text_of("/x =").1, "=");
        assert_eq!(text_of("/x  two  spaces  cap_kill=p").0, "/x  two  spaces ");
    }

    #[test]
    fn canonical_tail_wins_over_a_clause_like_name() {
        // A file really named "x =ep" carrying cap_kill=p.
        assert_eq!(
            text_of("/d/x =ep cap_kill=p"),
            ("/d/x =ep".into(), "cap_kill=p".into())
        );
        // Hand-written, non-canonical text still parses.
        assert_eq!(text_of("/d/x cap_kill+ep").1, "cap_kill=ep");
    }

    #[test]
    fn rootid_suffix_makes_v3() {
        let (_, c) = one("/ns cap_chown,cap_kill=ep [rootid=1000]");
        assert_eq!(c.unwrap().rootid, Some(1000));
        let (_, c) = one("/ns cap_net_raw=p [rootid=-2147483648]");
        assert_eq!(c.unwrap().rootid, Some(2_147_483_648));
        let c = FileCaps::from_text("cap_net_raw=p", Some(2_147_483_648)).unwrap();
        assert_eq!(
            line(Path::new("/ns"), &c),
            "/ns cap_net_raw=p [rootid=-2147483648]"
        );
    }

    #[test]
    fn escapes_round_trip() {
        let (p, _) = one("/t/a\\nb\\tc\\\\d\\xff cap_chown=p");
        use std::os::unix::ffi::OsStrExt;
        assert_eq!(p.as_os_str().as_bytes(), b"/t/a\nb\tc\\d\xff");
    }

    #[test]
    fn comments_blank_and_json() {
        assert_eq!(parse_line(b"").unwrap(), None);
        assert_eq!(parse_line(b"   ").unwrap(), None);
        assert_eq!(parse_line(b"  # /x cap_kill=p").unwrap(), None);
        let (p, c) = one(r#"{"path":"/a b","caps":"cap_kill=p","rootid":null}"#);
        assert_eq!(p, Path::new("/a b"));
        assert_eq!(c.unwrap().to_text(), "cap_kill=p");
        assert_eq!(one(r#"{"path":"/a","caps":null}"#).1, None);
        assert_eq!(
            parse_line(br#"{"path":"/d","caps":null,"regular":false}"#).unwrap(),
            None
        );
    }

    #[test]
    fn malformed_lines_name_file_and_line() {
        let errs = parse(
            Path::new("m.caps"),
            b"# ok\n/x cap_kill=p\n/y\n/z cap_bogus=p\n{\"path\":1}\n/x cap_chown=p\n",
        )
        .unwrap_err();
        let msgs: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(msgs.len(), 4, "{msgs:?}");
        assert!(
            msgs[0].starts_with("m.caps:3: expected 'PATH CAPS'"),
            "{msgs:?}"
        );
        assert!(msgs[1].starts_with("m.caps:4: "), "{msgs:?}");
        assert!(msgs[1].contains("cap_bogus"), "{msgs:?}");
        assert!(msgs[2].starts_with("m.caps:5: "), "{msgs:?}");
        assert!(
            msgs[3].starts_with("m.caps:6: '/x' is already listed"),
            "{msgs:?}"
        );
    }
}
