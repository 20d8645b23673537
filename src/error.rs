//! The one exit-code table and the one error printer.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success (and, for questions, "yes") |
//! | 1 | a negative answer: `verify` unmet, `check` drift, `set --check` differs |
//! | 2 | an error: usage, I/O, permission, bad input (clap's usage errors exit 2 too) |
//! | 125, 126, 127 | `fcap run` only, as `env` uses them: fcap failed before the exec, the program cannot be executed, or it is not found (once the program runs, its own status is the exit status) |
//!
//! A broken pipe (`fcap read -r / | head`) is not an error and exits 0, like ripgrep.

use crate::output::escape_path;
use std::io;
use std::path::Path;

/// What a command concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    Success = 0,
    Negative = 1,
    Error = 2,
    /// `fcap run`: an error before the exec (usage, a refused setup or target).
    LaunchError = 125,
    /// `fcap run`: the program exists but cannot be executed.
    CannotExecute = 126,
    /// `fcap run`: the program is not found.
    NotFound = 127,
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// Print an error the one way fcap prints errors: `fcap: <message>` on stderr, the
/// whole context chain on one line.
pub fn print(err: &anyhow::Error) {
    // Control characters in a message (they come from file names) are escaped by the
    // messages' own construction; this is a second guard for messages from elsewhere.
    let msg: String = format!("{err:#}")
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    eprintln!("fcap: {}", shorten(&msg));
}

/// Longest message printed whole, in characters. Messages quote paths and manifest
/// lines, and those can be megabytes long (a manifest line with a 10 MB path); a
/// message one can read says where and why, so only its middle is left out.
const MESSAGE_MAX: usize = 1000;

/// `msg` itself, or its first and last [`MESSAGE_MAX`]/2 characters around
/// `…[N bytes left out]…`: the start names the path, the end the cause and the line.
pub fn shorten(msg: &str) -> std::borrow::Cow<'_, str> {
    let count = msg.chars().count();
    if count <= MESSAGE_MAX {
        return msg.into();
    }
    let keep = MESSAGE_MAX / 2;
    let head_end = msg.char_indices().nth(keep).map_or(msg.len(), |(i, _)| i);
    let tail_start = msg
        .char_indices()
        .nth(count - keep)
        .map_or(msg.len(), |(i, _)| i);
    format!(
        "{}…[{} bytes left out]…{}",
        &msg[..head_end],
        tail_start - head_end,
        &msg[tail_start..]
    )
    .into()
}

/// A clap usage error as fcap's one line: clap's message (its continuation lines and
/// tips joined), then the usage and where the full help is, e.g.
/// `unexpected argument '--jsn' found; tip: a similar argument exists: '--json' (usage:
/// fcap read --json <PATH>...; see 'fcap read --help')`.
///
/// `command` (e.g. `fcap verify`) names the help to point at when clap gives no usage.
pub fn usage_line(e: &clap::Error, command: &str) -> String {
    let text = e.render().to_string();
    let mut message = Vec::new();
    let mut usage = None;
    for block in text.split("\n\n") {
        let joined = block
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        if let Some(u) = joined.strip_prefix("Usage: ") {
            usage = Some(u.to_string());
        } else if joined.starts_with("For more information") || joined.is_empty() {
            // Replaced by the pointer to the right command's --help below.
        } else {
            message.push(joined.trim_start_matches("error: ").to_string());
        }
    }
    let mut line = message.join("; ");
    if let Some(u) = usage {
        // The command the usage is for: the words before the first argument.
        let cmd: Vec<&str> = u
            .split_whitespace()
            .take_while(|w| !w.starts_with(['<', '[', '-']))
            .collect();
        line += &format!(" (usage: {u}; see '{} --help')", cmd.join(" "));
    } else {
        line += &format!(" (see '{command} --help')");
    }
    line
}

/// Print a warning: `fcap: warning: <message>` on stderr.
pub fn warn(msg: &str) {
    eprintln!("fcap: warning: {}", shorten(msg));
}

/// Print a note, for output that would otherwise say nothing: `fcap: note: <message>`.
pub fn note(msg: &str) {
    eprintln!("fcap: note: {}", shorten(msg));
}

/// True when any error in the chain is a broken pipe.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// `'<path>'`, quoted and escaped, for messages.
pub fn quote(path: &Path) -> String {
    format!("'{}'", escape_path(path))
}

/// An error about one path: `'<path>': <cause>`.
pub fn at_path(path: &Path, cause: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("{}: {cause}", quote(path))
}

/// An I/O error about one path, in plain words, with a hint where the user can act.
/// `writing` selects the hints that only make sense for a write.
pub fn io_at_path(path: &Path, e: &io::Error, writing: bool) -> anyhow::Error {
    at_path(path, describe_io(path, e, writing))
}

/// The cause and hint for an I/O error.
pub fn describe_io(path: &Path, e: &io::Error, writing: bool) -> String {
    let plain = strerror(e);
    match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) if writing => format!(
            "{plain}: writing file capabilities needs CAP_SETFCAP over the file (and the file owner must be mapped in this user namespace); run as root, e.g. with sudo"
        ),
        Some(libc::ENOTSUP) if writing => {
            let fs = crate::fsinfo::fs_name(path).unwrap_or_else(|| "this filesystem".to_string());
            format!(
                "{plain}: {fs} does not support the security.capability extended attribute; move the file to a filesystem that does (ext4, xfs, btrfs, tmpfs)"
            )
        }
        Some(libc::EROFS) if writing => {
            format!(
                "{plain}: the filesystem is mounted read-only; remount it read-write or set capabilities when building the image"
            )
        }
        Some(libc::ELOOP) => "symbolic link loop (too many levels of symbolic links)".to_string(),
        _ => plain,
    }
}

/// The C library's message for an errno, without Rust's " (os error N)" suffix.
pub fn strerror(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// The symbolic name of the errnos exec can fail with here.
pub fn errno_name(e: i32) -> String {
    match e {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EACCES => "EACCES",
        libc::EINVAL => "EINVAL",
        libc::ERANGE => "ERANGE",
        libc::ENOEXEC => "ENOEXEC",
        libc::ELOOP => "ELOOP",
        libc::EIO => "EIO",
        libc::ENOTDIR => "ENOTDIR",
        libc::ENOMEM => "ENOMEM",
        libc::ELIBBAD => "ELIBBAD",
        libc::ETXTBSY => "ETXTBSY",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        _ => return format!("E{e}"),
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worse_outcome_wins() {
        assert_eq!(Exit::Success.max(Exit::Negative), Exit::Negative);
        assert_eq!(Exit::Error.max(Exit::Negative), Exit::Error);
        assert_eq!(
            [Exit::Success, Exit::Negative, Exit::Error].map(Exit::code),
            [0, 1, 2]
        );
    }

    #[test]
    fn path_errors_quote_and_escape() {
        let e = io_at_path(
            Path::new("/x\ny"),
            &io::Error::from_raw_os_error(libc::ENOENT),
            false,
        );
        assert_eq!(e.to_string(), "'/x\\ny': No such file or directory");
        let e = io_at_path(
            Path::new("/f"),
            &io::Error::from_raw_os_error(libc::EPERM),
            true,
        );
        assert!(e.to_string().starts_with(
            "'/f': Operation not permitted: writing file capabilities needs CAP_SETFCAP"
        ));
    }

    #[test]
    fn a_huge_message_keeps_its_ends_and_says_how_much_is_left_out() {
        assert_eq!(shorten("short"), "short");
        let exact = "é".repeat(MESSAGE_MAX);
        assert_eq!(shorten(&exact), exact);
        let path = format!("/{}", "é".repeat(5_000_000));
        let msg = format!("'{path}': File name too long (listed at m.caps:1)");
        let s = shorten(&msg);
        assert!(s.chars().count() < MESSAGE_MAX + 40, "{}", s.len());
        assert!(s.starts_with("'/éé"), "{s}");
        assert!(
            s.ends_with("éé': File name too long (listed at m.caps:1)"),
            "{s}"
        );
        let (head, rest) = s.split_once("…[").unwrap();
        let (n, tail) = rest.split_once(" bytes left out]…").unwrap();
        assert_eq!(
            n.parse::<usize>().unwrap(),
            msg.len() - head.len() - tail.len()
        );
    }

    #[test]
    fn broken_pipe_is_found_in_the_chain() {
        let e = anyhow::Error::new(io::Error::from(io::ErrorKind::BrokenPipe)).context("writing");
        assert!(is_broken_pipe(&e));
        assert!(!is_broken_pipe(&anyhow::anyhow!("x")));
    }
}
