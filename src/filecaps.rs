//! `FileCaps`, the value stored in a file's `security.capability` extended attribute,
//! and its exact byte codec (shared spec: libcap.md §4).
//!
//! Layout, all little-endian u32 words:
//!
//! | offset | v1 (12 B) | v2 (20 B) | v3 (24 B) |
//! |---|---|---|---|
//! | 0  | magic: revision in the top byte, bit 0 = effective flag | same | same |
//! | 4  | permitted, caps 0..31   | same | same |
//! | 8  | inheritable, caps 0..31 | same | same |
//! | 12 | –                       | permitted, caps 32..63 | same |
//! | 16 | –                       | inheritable, caps 32..63 | same |
//! | 20 | –                       | – | rootid (owner uid of the user namespace) |
//!
//! The kernel's exec path (`get_vfs_caps_from_disk`) accepts exactly these three
//! shapes; any other size or revision makes `execve` fail with EINVAL, a value longer
//! than 24 bytes with ERANGE. We decode the same way and never panic on input.

use crate::caps::CapSet;
use crate::text::{self, CapText};
use std::fmt;

/// The name of the extended attribute, NUL-terminated for direct syscalls.
pub const XATTR_NAME_C: &std::ffi::CStr = c"security.capability";

pub const VFS_CAP_REVISION_MASK: u32 = 0xFF00_0000;
pub const VFS_CAP_FLAGS_EFFECTIVE: u32 = 0x0000_0001;
pub const VFS_CAP_REVISION_1: u32 = 0x0100_0000;
pub const VFS_CAP_REVISION_2: u32 = 0x0200_0000;
pub const VFS_CAP_REVISION_3: u32 = 0x0300_0000;
pub const XATTR_CAPS_SZ_1: usize = 12;
pub const XATTR_CAPS_SZ_2: usize = 20;
pub const XATTR_CAPS_SZ_3: usize = 24;

/// The capabilities a file carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileCaps {
    pub permitted: CapSet,
    pub inheritable: CapSet,
    /// One flag for the whole file: raise every permitted capability at exec.
    pub effective: bool,
    /// 1, 2 or 3. Encoding always writes 2, or 3 when `rootid` is set.
    pub revision: u8,
    /// The namespace root uid a v3 value is bound to.
    pub rootid: Option<u32>,
}

/// Why an attribute value cannot be decoded. The kernel refuses to exec such a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Zero bytes: still "has capabilities" for the kernel, but unreadable.
    Empty,
    /// Fewer than 4 bytes, or a size that fits no revision.
    BadSize { len: usize, revision: Option<u32> },
    /// A revision other than 1, 2, 3.
    UnknownRevision { revision: u32, len: usize },
    /// More than 24 bytes (the kernel's exec reads fail with ERANGE).
    TooLong { len: usize },
}

impl DecodeError {
    /// The errno `execve` fails with for this value.
    pub fn exec_errno(&self) -> i32 {
        match self {
            DecodeError::TooLong { .. } => libc::ERANGE,
            _ => libc::EINVAL,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Empty => write!(f, "malformed security.capability: empty value"),
            DecodeError::BadSize {
                len,
                revision: Some(r),
            } => write!(
                f,
                "malformed security.capability: {len} bytes do not fit revision {r} (v1 is 12, v2 20, v3 24 bytes)"
            ),
            DecodeError::BadSize {
                len,
                revision: None,
            } => {
                write!(f, "malformed security.capability: {len} bytes is too short")
            }
            DecodeError::UnknownRevision { revision, len } => write!(
                f,
                "malformed security.capability: unknown revision {revision:#x} ({len} bytes)"
            ),
            DecodeError::TooLong { len } => write!(
                f,
                "malformed security.capability: {len} bytes is longer than any revision (24)"
            ),
        }?;
        let errno = if self.exec_errno() == libc::ERANGE {
            "ERANGE"
        } else {
            "EINVAL"
        };
        write!(f, "; the kernel refuses to execute this file ({errno})")
    }
}

impl std::error::Error for DecodeError {}

/// Why the kernel will not hand out a file's value: its getxattr answers EINVAL (or
/// ERANGE, past 24 bytes) for a malformed value, but also for values exec honours
/// (a v1 value, v2/v3 with unknown flag bits: measured, they grant their
/// capabilities). fcap cannot tell which, so it never calls it a refusal.
/// `None` for other errors.
pub fn unreadable_value(e: &std::io::Error) -> Option<String> {
    let errno = e
        .raw_os_error()
        .filter(|n| *n == libc::EINVAL || *n == libc::ERANGE)?;
    Some(format!(
        "security.capability value hidden by the kernel (getxattr: {}), so fcap cannot read it: it may still grant capabilities at exec (a v1 value, or unknown flag bits) or make the exec fail (an empty or malformed value)",
        crate::error::errno_name(errno)
    ))
}

/// A text whose effective flags cannot be stored in a file (setcap: "Invalid file").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MixedEffective {
    /// Capabilities that are permitted or inheritable but not effective.
    pub not_effective: CapSet,
    pub effective: CapSet,
}

impl fmt::Display for MixedEffective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a file has one effective flag for all its capabilities: {} would be effective but {} would not",
            self.effective, self.not_effective
        )
    }
}

impl std::error::Error for MixedEffective {}

fn word(b: &[u8], i: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[i * 4..i * 4 + 4]);
    u32::from_le_bytes(w)
}

impl FileCaps {
    /// No capabilities (what `setcap =` stores).
    pub const EMPTY: FileCaps = FileCaps {
        permitted: CapSet::EMPTY,
        inheritable: CapSet::EMPTY,
        effective: false,
        revision: 2,
        rootid: None,
    };

    /// Decode raw attribute bytes exactly as the kernel's exec path does.
    pub fn decode(b: &[u8]) -> Result<FileCaps, DecodeError> {
        if b.is_empty() {
            return Err(DecodeError::Empty);
        }
        if b.len() > XATTR_CAPS_SZ_3 {
            return Err(DecodeError::TooLong { len: b.len() });
        }
        if b.len() < 4 {
            return Err(DecodeError::BadSize {
                len: b.len(),
                revision: None,
            });
        }
        let magic = word(b, 0);
        let rev = magic & VFS_CAP_REVISION_MASK;
        let want = match rev {
            VFS_CAP_REVISION_1 => XATTR_CAPS_SZ_1,
            VFS_CAP_REVISION_2 => XATTR_CAPS_SZ_2,
            VFS_CAP_REVISION_3 => XATTR_CAPS_SZ_3,
            _ => {
                return Err(DecodeError::UnknownRevision {
                    revision: rev >> 24,
                    len: b.len(),
                });
            }
        };
        if b.len() != want {
            return Err(DecodeError::BadSize {
                len: b.len(),
                revision: Some(rev >> 24),
            });
        }
        let hi = |i| {
            if want > XATTR_CAPS_SZ_1 {
                u64::from(word(b, i)) << 32
            } else {
                0
            }
        };
        Ok(FileCaps {
            permitted: CapSet(u64::from(word(b, 1)) | hi(3)),
            inheritable: CapSet(u64::from(word(b, 2)) | hi(4)),
            // Other flag bits are ignored by the kernel and by libcap.
            effective: magic & VFS_CAP_FLAGS_EFFECTIVE != 0,
            revision: (rev >> 24) as u8,
            rootid: (want == XATTR_CAPS_SZ_3).then(|| word(b, 5)),
        })
    }

    /// Why the kernel refuses to store `b` as `security.capability` (setxattr's
    /// `cap_convert_nscap`: only a v2 or v3 header, the effective flag the only
    /// flag bit, a rootid that is a uid), or `None` when it stores it. A value the
    /// kernel still reads at exec (v1, other flag bits) may be one it no longer
    /// lets anyone write: a runtime unpacking an image fails on it.
    pub fn setxattr_refusal(b: &[u8]) -> Option<String> {
        let c = match FileCaps::decode(b) {
            Ok(c) => c,
            Err(e) => return Some(e.to_string()),
        };
        let magic = word(b, 0);
        if c.revision == 1 {
            return Some("a v1 security.capability value (12 bytes), which setxattr no longer accepts (EINVAL)".into());
        }
        let flags = magic & !VFS_CAP_REVISION_MASK & !VFS_CAP_FLAGS_EFFECTIVE;
        if flags != 0 {
            return Some(format!(
                "a security.capability value with flag bits {flags:#x} the kernel does not know, which setxattr refuses (EINVAL)"
            ));
        }
        if c.rootid == Some(u32::MAX) {
            return Some("a v3 security.capability value with rootid 4294967295, which is no uid: setxattr refuses it (EINVAL)".into());
        }
        None
    }

    /// Encode as libcap's `cap_set_file` does: v2 (20 bytes), or v3 (24) with a rootid.
    pub fn encode(&self) -> Vec<u8> {
        let rev = if self.rootid.is_some() {
            VFS_CAP_REVISION_3
        } else {
            VFS_CAP_REVISION_2
        };
        let magic = rev | u32::from(self.effective);
        let (p, i) = (self.permitted.0, self.inheritable.0);
        let mut words = vec![
            magic,
            p as u32,
            i as u32,
            (p >> 32) as u32,
            (i >> 32) as u32,
        ];
        if let Some(r) = self.rootid {
            words.push(r);
        }
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    /// The sets as libcap sees a file: E = P|I when the flag is set, else empty.
    pub fn as_text_sets(&self) -> CapText {
        CapText {
            effective: if self.effective {
                self.permitted | self.inheritable
            } else {
                CapSet::EMPTY
            },
            inheritable: self.inheritable,
            permitted: self.permitted,
        }
    }

    /// Build a file value from parsed text, applying libcap's `_fcaps_save` rule: the
    /// effective bits must be empty or cover every permitted and inheritable bit
    /// (effective bits outside P|I are silently dropped, as libcap does).
    pub fn from_text_sets(t: &CapText, rootid: Option<u32>) -> Result<FileCaps, MixedEffective> {
        let pi = t.permitted | t.inheritable;
        let effective = !t.effective.is_empty();
        if effective && !(pi - t.effective).is_empty() {
            return Err(MixedEffective {
                not_effective: pi - t.effective,
                effective: pi & t.effective,
            });
        }
        Ok(FileCaps {
            permitted: t.permitted,
            inheritable: t.inheritable,
            effective,
            revision: if rootid.is_some() { 3 } else { 2 },
            rootid,
        })
    }

    /// Parse libcap text into a file value (what `setcap TEXT` would store).
    pub fn from_text(s: &str, rootid: Option<u32>) -> anyhow::Result<FileCaps> {
        let t =
            text::parse(s).map_err(|e| anyhow::anyhow!("invalid capability text '{s}': {e}"))?;
        Ok(FileCaps::from_text_sets(&t, rootid)?)
    }

    /// Canonical text, byte-identical to what getcap prints for this value.
    pub fn to_text(&self) -> String {
        text::to_text(&self.as_text_sets())
    }

    /// True when no capability is stored (the value `=`).
    pub fn is_empty(&self) -> bool {
        self.permitted.is_empty() && self.inheritable.is_empty()
    }

    /// Same capabilities, ignoring the revision (v1 and v2 of one set are equal) and
    /// the effective flag of a value with no capabilities at all: `cap_chown=e`
    /// stores the flag with nothing to raise, prints as `=` like the flagless value,
    /// and executes the same (found by fuzzing manifests).
    pub fn same_caps(&self, o: &FileCaps) -> bool {
        self.permitted == o.permitted
            && self.inheritable == o.inheritable
            && (self.effective == o.effective || self.is_empty())
            && self.rootid.unwrap_or(0) == o.rootid.unwrap_or(0)
    }
}

impl fmt::Display for FileCaps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn decodes_the_bytes_setcap_writes() {
        // `setcap =eip f` on a 41-cap kernel (libcap.md §4.1).
        let f = FileCaps::decode(&hex("01000002 ffffffff ffffffff ff010000 ff010000")).unwrap();
        assert_eq!(f.permitted, CapSet::first(41));
        assert_eq!(f.inheritable, CapSet::first(41));
        assert!(f.effective);
        assert_eq!((f.revision, f.rootid), (2, None));
        // `setcap -n 1000 cap_chown,cap_kill=ep f`
        let raw = hex("01000003 21000000 00000000 00000000 00000000 e8030000");
        let f = FileCaps::decode(&raw).unwrap();
        assert_eq!(f.permitted, CapSet(0x21));
        assert_eq!((f.revision, f.rootid, f.effective), (3, Some(1000), true));
        assert_eq!(f.encode(), raw);
    }

    #[test]
    fn decodes_v1_and_ignores_extra_flag_bits() {
        let f = FileCaps::decode(&hex("03000001 00200000 00000000")).unwrap();
        assert_eq!(f.permitted, CapSet::single(13));
        assert!(f.effective);
        assert_eq!(f.revision, 1);
        // v1 re-encodes as v2, like libcap on a 64-bit-cap kernel.
        assert_eq!(
            f.encode(),
            hex("01000002 00200000 00000000 00000000 00000000")
        );
    }

    #[test]
    fn every_malformed_shape_is_a_typed_error() {
        assert_eq!(FileCaps::decode(&[]), Err(DecodeError::Empty));
        assert_eq!(
            FileCaps::decode(&[0, 0, 0]),
            Err(DecodeError::BadSize {
                len: 3,
                revision: None
            })
        );
        assert_eq!(
            FileCaps::decode(&hex("00000002 00000000 00000000")),
            Err(DecodeError::BadSize {
                len: 12,
                revision: Some(2)
            })
        );
        assert_eq!(
            FileCaps::decode(&hex("00000003 00000000 00000000 00000000 00000000")),
            Err(DecodeError::BadSize {
                len: 20,
                revision: Some(3)
            })
        );
        assert_eq!(
            FileCaps::decode(&hex("00000004 00000000 00000000 00000000 00000000")),
            Err(DecodeError::UnknownRevision {
                revision: 4,
                len: 20
            })
        );
        assert_eq!(
            FileCaps::decode(&[0u8; 28]),
            Err(DecodeError::TooLong { len: 28 })
        );
        assert_eq!(
            FileCaps::decode(&[0u8; 28]).unwrap_err().exec_errno(),
            libc::ERANGE
        );
        assert_eq!(
            FileCaps::decode(&[]).unwrap_err().exec_errno(),
            libc::EINVAL
        );
        assert!(
            FileCaps::decode(&[])
                .unwrap_err()
                .to_string()
                .contains("refuses to execute")
        );
    }

    #[test]
    fn an_effective_flag_with_nothing_to_raise_compares_equal_to_none() {
        let e_only =
            FileCaps::from_text_sets(&text::parse_with_count("cap_chown=e", 41).unwrap(), None)
                .unwrap();
        assert!(e_only.effective && e_only.is_empty());
        assert!(e_only.same_caps(&FileCaps::EMPTY) && FileCaps::EMPTY.same_caps(&e_only));
        let p = FileCaps::from_text("cap_chown=p", None).unwrap();
        let ep = FileCaps::from_text("cap_chown=ep", None).unwrap();
        assert!(!p.same_caps(&ep));
    }

    #[test]
    fn mixed_effective_flags_are_refused_like_libcap() {
        let t = text::parse_with_count("cap_chown=ep cap_net_raw=p", 41).unwrap();
        let e = FileCaps::from_text_sets(&t, None).unwrap_err();
        assert_eq!(e.not_effective, CapSet::single(13));
        // E bits outside P|I are dropped, not refused.
        let t = text::parse_with_count("=eip cap_chown-ip", 41).unwrap();
        let f = FileCaps::from_text_sets(&t, None).unwrap();
        assert!(f.effective && !f.permitted.has(0));
        let t = text::parse_with_count("cap_chown=e", 41).unwrap();
        assert_eq!(
            FileCaps::from_text_sets(&t, None).unwrap().encode(),
            hex("01000002 00000000 00000000 00000000 00000000")
        );
    }

    proptest::proptest! {
        #[test]
        fn valid_values_round_trip(p: u64, i: u64, e: bool, root: Option<u32>) {
            let f = FileCaps { permitted: CapSet(p), inheritable: CapSet(i), effective: e,
                revision: if root.is_some() { 3 } else { 2 }, rootid: root };
            proptest::prop_assert_eq!(FileCaps::decode(&f.encode()), Ok(f));
        }

        #[test]
        fn decode_never_panics_and_reencodes_v2_v3_exactly(b in proptest::collection::vec(proptest::num::u8::ANY, 0..32)) {
            if let Ok(f) = FileCaps::decode(&b) {
                let mut want = b.clone();
                if f.revision != 1 {
                    // Only bit 0 of the flags survives re-encoding.
                    want[0] &= 1; want[1] = 0; want[2] = 0;
                    proptest::prop_assert_eq!(f.encode(), want);
                }
            }
        }
    }
}
