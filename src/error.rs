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

/// The message for an I/O error, without Rust's " (os error N)" suffix: for an errno,
/// [`errno_message`].
pub fn strerror(e: &io::Error) -> String {
    if let Some(code) = e.raw_os_error() {
        return errno_message(code);
    }
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// The message for an errno in glibc's words, whatever C library fcap is linked with.
/// The release binary links musl, which words about thirty errnos its own way
/// ("Filename too long", "Not supported", "I/O error"); Linux users know glibc's from
/// coreutils and every other tool, and the setcap/getcap drop-in must print libcap's
/// messages byte for byte, and libcap prints glibc's.
pub fn errno_message(code: i32) -> String {
    usize::try_from(code)
        .ok()
        .and_then(|i| GLIBC_MESSAGES.get(i))
        .filter(|m| !m.is_empty())
        .map_or_else(|| format!("Unknown error {code}"), |m| m.to_string())
}

/// glibc 2.36's `strerror` for errno 0 to 133 (every errno Linux defines on x86_64 and
/// arm64), as Python's `os.strerror` printed them; "" where glibc has no message (41
/// and 58 are unused numbers). tests/it/write.rs compares the table with glibc.
#[rustfmt::skip]
const GLIBC_MESSAGES: [&str; 134] = [
    "Success", // 0
    "Operation not permitted", // 1 EPERM
    "No such file or directory", // 2 ENOENT
    "No such process", // 3 ESRCH
    "Interrupted system call", // 4 EINTR
    "Input/output error", // 5 EIO
    "No such device or address", // 6 ENXIO
    "Argument list too long", // 7 E2BIG
    "Exec format error", // 8 ENOEXEC
    "Bad file descriptor", // 9 EBADF
    "No child processes", // 10 ECHILD
    "Resource temporarily unavailable", // 11 EAGAIN
    "Cannot allocate memory", // 12 ENOMEM
    "Permission denied", // 13 EACCES
    "Bad address", // 14 EFAULT
    "Block device required", // 15 ENOTBLK
    "Device or resource busy", // 16 EBUSY
    "File exists", // 17 EEXIST
    "Invalid cross-device link", // 18 EXDEV
    "No such device", // 19 ENODEV
    "Not a directory", // 20 ENOTDIR
    "Is a directory", // 21 EISDIR
    "Invalid argument", // 22 EINVAL
    "Too many open files in system", // 23 ENFILE
    "Too many open files", // 24 EMFILE
    "Inappropriate ioctl for device", // 25 ENOTTY
    "Text file busy", // 26 ETXTBSY
    "File too large", // 27 EFBIG
    "No space left on device", // 28 ENOSPC
    "Illegal seek", // 29 ESPIPE
    "Read-only file system", // 30 EROFS
    "Too many links", // 31 EMLINK
    "Broken pipe", // 32 EPIPE
    "Numerical argument out of domain", // 33 EDOM
    "Numerical result out of range", // 34 ERANGE
    "Resource deadlock avoided", // 35 EDEADLOCK
    "File name too long", // 36 ENAMETOOLONG
    "No locks available", // 37 ENOLCK
    "Function not implemented", // 38 ENOSYS
    "Directory not empty", // 39 ENOTEMPTY
    "Too many levels of symbolic links", // 40 ELOOP
    "", // 41
    "No message of desired type", // 42 ENOMSG
    "Identifier removed", // 43 EIDRM
    "Channel number out of range", // 44 ECHRNG
    "Level 2 not synchronized", // 45 EL2NSYNC
    "Level 3 halted", // 46 EL3HLT
    "Level 3 reset", // 47 EL3RST
    "Link number out of range", // 48 ELNRNG
    "Protocol driver not attached", // 49 EUNATCH
    "No CSI structure available", // 50 ENOCSI
    "Level 2 halted", // 51 EL2HLT
    "Invalid exchange", // 52 EBADE
    "Invalid request descriptor", // 53 EBADR
    "Exchange full", // 54 EXFULL
    "No anode", // 55 ENOANO
    "Invalid request code", // 56 EBADRQC
    "Invalid slot", // 57 EBADSLT
    "", // 58
    "Bad font file format", // 59 EBFONT
    "Device not a stream", // 60 ENOSTR
    "No data available", // 61 ENODATA
    "Timer expired", // 62 ETIME
    "Out of streams resources", // 63 ENOSR
    "Machine is not on the network", // 64 ENONET
    "Package not installed", // 65 ENOPKG
    "Object is remote", // 66 EREMOTE
    "Link has been severed", // 67 ENOLINK
    "Advertise error", // 68 EADV
    "Srmount error", // 69 ESRMNT
    "Communication error on send", // 70 ECOMM
    "Protocol error", // 71 EPROTO
    "Multihop attempted", // 72 EMULTIHOP
    "RFS specific error", // 73 EDOTDOT
    "Bad message", // 74 EBADMSG
    "Value too large for defined data type", // 75 EOVERFLOW
    "Name not unique on network", // 76 ENOTUNIQ
    "File descriptor in bad state", // 77 EBADFD
    "Remote address changed", // 78 EREMCHG
    "Can not access a needed shared library", // 79 ELIBACC
    "Accessing a corrupted shared library", // 80 ELIBBAD
    ".lib section in a.out corrupted", // 81 ELIBSCN
    "Attempting to link in too many shared libraries", // 82 ELIBMAX
    "Cannot exec a shared library directly", // 83 ELIBEXEC
    "Invalid or incomplete multibyte or wide character", // 84 EILSEQ
    "Interrupted system call should be restarted", // 85 ERESTART
    "Streams pipe error", // 86 ESTRPIPE
    "Too many users", // 87 EUSERS
    "Socket operation on non-socket", // 88 ENOTSOCK
    "Destination address required", // 89 EDESTADDRREQ
    "Message too long", // 90 EMSGSIZE
    "Protocol wrong type for socket", // 91 EPROTOTYPE
    "Protocol not available", // 92 ENOPROTOOPT
    "Protocol not supported", // 93 EPROTONOSUPPORT
    "Socket type not supported", // 94 ESOCKTNOSUPPORT
    "Operation not supported", // 95 ENOTSUP
    "Protocol family not supported", // 96 EPFNOSUPPORT
    "Address family not supported by protocol", // 97 EAFNOSUPPORT
    "Address already in use", // 98 EADDRINUSE
    "Cannot assign requested address", // 99 EADDRNOTAVAIL
    "Network is down", // 100 ENETDOWN
    "Network is unreachable", // 101 ENETUNREACH
    "Network dropped connection on reset", // 102 ENETRESET
    "Software caused connection abort", // 103 ECONNABORTED
    "Connection reset by peer", // 104 ECONNRESET
    "No buffer space available", // 105 ENOBUFS
    "Transport endpoint is already connected", // 106 EISCONN
    "Transport endpoint is not connected", // 107 ENOTCONN
    "Cannot send after transport endpoint shutdown", // 108 ESHUTDOWN
    "Too many references: cannot splice", // 109 ETOOMANYREFS
    "Connection timed out", // 110 ETIMEDOUT
    "Connection refused", // 111 ECONNREFUSED
    "Host is down", // 112 EHOSTDOWN
    "No route to host", // 113 EHOSTUNREACH
    "Operation already in progress", // 114 EALREADY
    "Operation now in progress", // 115 EINPROGRESS
    "Stale file handle", // 116 ESTALE
    "Structure needs cleaning", // 117 EUCLEAN
    "Not a XENIX named type file", // 118 ENOTNAM
    "No XENIX semaphores available", // 119 ENAVAIL
    "Is a named type file", // 120 EISNAM
    "Remote I/O error", // 121 EREMOTEIO
    "Disk quota exceeded", // 122 EDQUOT
    "No medium found", // 123 ENOMEDIUM
    "Wrong medium type", // 124 EMEDIUMTYPE
    "Operation canceled", // 125 ECANCELED
    "Required key not available", // 126 ENOKEY
    "Key has expired", // 127 EKEYEXPIRED
    "Key has been revoked", // 128 EKEYREVOKED
    "Key was rejected by service", // 129 EKEYREJECTED
    "Owner died", // 130 EOWNERDEAD
    "State not recoverable", // 131 ENOTRECOVERABLE
    "Operation not possible due to RF-kill", // 132 ERFKILL
    "Memory page has hardware error", // 133
];

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
