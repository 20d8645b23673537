//! A streaming tar reader for layer tars and image archives: ustar, GNU (`L`/`K`
//! long names, old sparse files) and POSIX pax (`x` and `g` records), as Go's
//! `archive/tar` reads them, because moby, containerd and umoci write and read
//! layers with it.
//!
//! It keeps nothing of an entry but its header: data is skipped (or, for the few
//! files `verify` needs, its first bytes are read), so memory does not depend on
//! the archive. Special records are bounded (1 MiB, Go's `maxSpecialFileSize`):
//! an absurd pax size is an error, never an allocation.
//!
//! Like Go's reader, an archive may end at an entry boundary without the two zero
//! blocks, and the last entry may lack its padding (umoci 0.4.7's `insert` writes
//! such layers, umoci #436): data cut short is still an error.

use std::io::{self, BufRead, Read};

const BLOCK: usize = 512;
/// The largest pax or GNU long-name record we accept.
const MAX_SPECIAL: u64 = 1 << 20;

/// The capability attribute's pax record names.
const SCHILY_CAP: &[u8] = b"SCHILY.xattr.security.capability";
const LIBARCHIVE_CAP: &[u8] = b"LIBARCHIVE.xattr.security.capability";
/// containerd before PR #2873 (2018) wrote this misspelling, so old images carry
/// it; no runtime of today applies it (Go's `Xattrs` and the appliers' prefix test
/// want `SCHILY.xattr.`).
const MISSPELT_CAP: &[u8] = b"SCHILY.xattrs.security.capability";

/// What an entry is (its typeflag).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Regular,
    HardLink,
    Symlink,
    Dir,
    /// Devices, fifos and anything else that is not one of the above.
    Other,
}

/// Where a capability value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CapRecord {
    /// `SCHILY.xattr.security.capability`: what moby, containerd and umoci apply.
    Schily(Vec<u8>),
    /// Only containerd's old misspelling `SCHILY.xattrs.security.capability`:
    /// no runtime applies it.
    Misspelt(Vec<u8>),
    /// Only `LIBARCHIVE.xattr.security.capability` (bsdtar): a container never gets it.
    LibarchiveOnly(Vec<u8>),
    /// A LIBARCHIVE record that is not base64.
    BadBase64,
}

/// One entry's header, after pax and GNU records were applied.
#[derive(Clone, Debug)]
pub struct Header {
    /// The name as written (not cleaned).
    pub name: Vec<u8>,
    pub kind: Kind,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub size: u64,
    /// A link's target.
    pub link: Vec<u8>,
    pub cap: Option<CapRecord>,
    /// Modification time, whole seconds (a pax `mtime` wins over the header's).
    pub mtime: u64,
    /// The other `SCHILY.xattr.*` records (name after the prefix, raw value), in
    /// the archive's order: a copy-up carries them over.
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    /// A GNU sparse entry: its data is not the file's bytes.
    pub sparse: bool,
}

/// Why an archive cannot be read.
#[derive(Debug)]
pub enum Error {
    Io(io::Error),
    /// The archive ends inside a header or an entry's data.
    Truncated(String),
    /// A header or record that is not what the format says.
    Malformed(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Io(e) => write!(f, "{}", crate::error::strerror(e)),
            Error::Truncated(at) => write!(f, "truncated tar: it ends inside {at}"),
            Error::Malformed(why) => write!(f, "not a valid tar: {why}"),
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Io(e)
    }
}

/// A byte stream the reader can skip over: by reading (a decompressor), or by
/// seeking (an archive file, whose blobs need not be read to be indexed).
pub trait Skip: Read {
    /// Pass over `n` bytes (fewer only at the end), reading through `scratch`.
    fn skip(&mut self, n: u64, scratch: &mut [u8]) -> io::Result<u64> {
        let mut done = 0;
        while done < n {
            let want = scratch
                .len()
                .min(usize::try_from(n - done).unwrap_or(usize::MAX));
            match self.read(&mut scratch[..want]) {
                Ok(0) => break,
                Ok(k) => done += k as u64,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }
}

impl Skip for &[u8] {}
impl Skip for Box<dyn Read + Send + '_> {}

/// A buffered stream is skipped by consuming its buffer in place, with no copy.
/// Under it a decompressor always fills the whole buffer: reading 512-byte headers
/// and small files' data from zlib-rs directly costs it a fifth more CPU
/// (`scripts/bench-image.sh`).
impl<R: Read> Skip for io::BufReader<R> {
    fn skip(&mut self, n: u64, _scratch: &mut [u8]) -> io::Result<u64> {
        let mut left = n;
        while left > 0 {
            let avail = match self.fill_buf() {
                Ok(b) => b.len(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if avail == 0 {
                break;
            }
            let k = avail.min(usize::try_from(left).unwrap_or(usize::MAX));
            self.consume(k);
            left -= k as u64;
        }
        Ok(n - left)
    }
}

/// Reads entries one after the other from any byte stream.
pub struct Reader<R> {
    r: R,
    /// Bytes of the current entry's data (and padding) not yet consumed.
    unread: u64,
    pad: u64,
    /// The name of the last header, for messages.
    last: Vec<u8>,
    done: bool,
    /// How many bytes have been consumed.
    pub offset: u64,
    /// Where skipped data is read to: large reads keep a decompressor's and a
    /// hasher's per-call costs small.
    scratch: Vec<u8>,
}

/// The pax keys we use. An empty value keeps the header's own field, as Go's
/// `mergePAX` does (`None` here); capability records keep even an empty value,
/// because runtimes apply a record from `PAXRecords`, where it stays.
#[derive(Clone, Default, Debug)]
struct Pax {
    path: Option<Vec<u8>>,
    linkpath: Option<Vec<u8>>,
    size: Option<u64>,
    uid: Option<u64>,
    gid: Option<u64>,
    schily: Option<Vec<u8>>,
    misspelt: Option<Vec<u8>>,
    libarchive: Option<Vec<u8>>,
    bad_base64: bool,
    mtime: Option<u64>,
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    /// `GNU.sparse.name`, which renames only a PAX-format sparse file.
    sparse_name: Option<Vec<u8>>,
    /// `GNU.sparse.major` and `.minor`, and whether a sparse map was given (a
    /// `GNU.sparse.map` record, or the offset/numbytes pairs of format 0.0).
    sparse_major: Option<Vec<u8>>,
    sparse_minor: Option<Vec<u8>>,
    sparse_map: bool,
}

impl Pax {
    /// Whether these records make a PAX-format GNU sparse file, as Go's
    /// `readGNUSparsePAXHeaders` decides: versions 0.0, 0.1 and 1.0 by their
    /// records, 0.0 and 0.1 also by a map alone; an unknown version is a plain file.
    fn sparse(&self) -> bool {
        match (self.sparse_major.as_deref(), self.sparse_minor.as_deref()) {
            (Some(b"0"), Some(b"0" | b"1")) | (Some(b"1"), Some(b"0")) => true,
            (None, None) => self.sparse_map,
            _ => false,
        }
    }
}

impl<R: Skip> Reader<R> {
    pub fn new(r: R) -> Reader<R> {
        Reader {
            r,
            unread: 0,
            pad: 0,
            last: Vec::new(),
            done: false,
            offset: 0,
            scratch: vec![0u8; 128 << 10],
        }
    }

    /// The stream under the reader (to drain what follows the archive).
    pub fn into_inner(self) -> R {
        self.r
    }

    /// The next entry, or `None` at the end of the archive.
    pub fn next_entry(&mut self) -> Result<Option<Header>, Error> {
        if self.done {
            return Ok(None);
        }
        self.skip_rest()?;
        let mut local = Pax::default();
        let mut long_name: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        loop {
            let mut block = [0u8; BLOCK];
            match self.fill(&mut block)? {
                0 => {
                    self.done = true;
                    return Ok(None);
                }
                BLOCK => {}
                _ => return Err(Error::Truncated(self.after("a header"))),
            }
            if block.iter().all(|&b| b == 0) {
                // A zero block ends the archive, as in Go's reader, if the next
                // block is zero too or missing; a header after it is an error there.
                self.done = true;
                let n = self.fill(&mut block)?;
                if n == BLOCK && block.iter().any(|&b| b != 0) {
                    return Err(Error::Malformed(
                        self.after("a header after a zero block (the end of the archive)"),
                    ));
                }
                if n != 0 && n != BLOCK {
                    return Err(Error::Truncated(self.after("the end-of-archive blocks")));
                }
                return Ok(None);
            }
            let h = raw_header(&block).map_err(|why| Error::Malformed(self.after(&why)))?;
            match h.flag {
                b'x' | b'g' | b'L' | b'K' => {
                    if h.size > MAX_SPECIAL {
                        return Err(Error::Malformed(self.after(&format!(
                            "a {} record of {} bytes (the limit is {MAX_SPECIAL})",
                            special_name(h.flag),
                            h.size
                        ))));
                    }
                    let data = self.read_special(h.size)?;
                    // Go's reader keeps the records of the last 'x' header only; a
                    // global 'g' header is handed to the applier as an entry of its
                    // own, which moby and containerd skip: it changes no later entry
                    // and ends what the headers before it said.
                    let mut records = Pax::default();
                    if matches!(h.flag, b'x' | b'g') {
                        parse_pax(&data, &mut records).map_err(|w| {
                            let what = if h.flag == b'g' { "global pax" } else { "pax" };
                            Error::Malformed(self.after(&format!("{what} record: {w}")))
                        })?;
                    }
                    let named = |d: &[u8]| Some(cut_nul(d).to_vec()).filter(|n| !n.is_empty());
                    match h.flag {
                        b'x' => local = records,
                        b'g' => {
                            local = Pax::default();
                            long_name = None;
                            long_link = None;
                        }
                        // An empty GNU long name names nothing (Go tests for "").
                        b'L' => long_name = named(&data).or(long_name),
                        _ => long_link = named(&data).or(long_link),
                    }
                    continue;
                }
                _ => {}
            }
            // Go merges the pax records first, then a GNU long name or link
            // overrides them: the long name wins over a pax `path`.
            let mut name = long_name.take().or(local.path.take()).unwrap_or(h.name);
            let link = long_link.take().or(local.linkpath.take()).unwrap_or(h.link);
            // GNU.sparse.name renames a real PAX-format sparse file only (not an
            // old GNU 'S' entry, whose map is in its header).
            if h.flag != b'S'
                && local.sparse()
                && let Some(n) = local.sparse_name.take()
            {
                name = n;
            }
            let size = local.size.unwrap_or(h.size);
            let kind = match h.flag {
                b'0' | 0 | b'7' | b'S' => Kind::Regular,
                b'1' => Kind::HardLink,
                b'2' => Kind::Symlink,
                b'5' | b'D' => Kind::Dir,
                // Old tars mark a directory by a trailing slash on a regular entry.
                _ => Kind::Other,
            };
            let kind = if kind == Kind::Regular && h.flag == 0 && name.ends_with(b"/") {
                Kind::Dir
            } else {
                kind
            };
            if h.flag == b'S' && h.gnu_extended {
                self.skip_sparse_extensions()?;
            }
            let cap = match (local.schily.take(), local.libarchive.take()) {
                (Some(v), _) => Some(CapRecord::Schily(v)),
                (None, Some(v)) => Some(CapRecord::LibarchiveOnly(v)),
                (None, None) if local.bad_base64 => Some(CapRecord::BadBase64),
                (None, None) => local.misspelt.take().map(CapRecord::Misspelt),
            };
            // Hard links, symlinks and directories have no data whatever the size
            // field says (Go's reader ignores it for them too).
            let data = match kind {
                Kind::HardLink | Kind::Symlink | Kind::Dir if h.flag != b'D' => 0,
                _ => size,
            };
            self.unread = data;
            self.pad = pad_of(data);
            self.last.clone_from(&name);
            let xattrs = std::mem::take(&mut local.xattrs);
            return Ok(Some(Header {
                mtime: local.mtime.unwrap_or(h.mtime),
                xattrs,
                sparse: h.flag == b'S',
                name,
                kind,
                mode: h.mode,
                uid: local.uid.unwrap_or(h.uid),
                gid: local.gid.unwrap_or(h.gid),
                size,
                link,
                cap,
            }));
        }
    }

    /// Up to `max` first bytes of the current entry's data (the rest is skipped by
    /// the next call to [`Reader::next_entry`]).
    pub fn head(&mut self, max: usize) -> Result<Vec<u8>, Error> {
        let want = self.unread.min(max as u64) as usize;
        let mut buf = vec![0u8; want];
        let got = self.fill(&mut buf)?;
        if got < want {
            return Err(Error::Truncated(self.data_of()));
        }
        self.unread -= want as u64;
        Ok(buf)
    }

    /// Copy the current entry's data (what is left of it) to `w`.
    pub fn copy_to(&mut self, w: &mut dyn io::Write) -> Result<u64, Error> {
        let mut done = 0;
        while self.unread > 0 {
            let want = self
                .scratch
                .len()
                .min(usize::try_from(self.unread).unwrap_or(usize::MAX));
            let mut buf = std::mem::take(&mut self.scratch);
            let got = self.fill(&mut buf[..want]);
            let r = match got {
                Ok(0) => Err(Error::Truncated(self.data_of())),
                Ok(n) => w.write_all(&buf[..n]).map(|()| n).map_err(Error::Io),
                Err(e) => Err(e),
            };
            self.scratch = buf;
            let n = r?;
            self.unread -= n as u64;
            done += n as u64;
        }
        Ok(done)
    }

    /// Skip the rest of the current entry's data and its padding.
    fn skip_rest(&mut self) -> Result<(), Error> {
        let n = self.unread;
        if n > 0 {
            let got = self.skip(n)?;
            if got < n {
                return Err(Error::Truncated(self.data_of()));
            }
            self.unread = 0;
        }
        if self.pad > 0 {
            let pad = self.pad;
            self.pad = 0;
            // The last entry's padding may be missing (umoci #436): an end there
            // is the end of the archive.
            if self.skip(pad)? < pad {
                self.done = true;
            }
        }
        Ok(())
    }

    fn read_special(&mut self, size: u64) -> Result<Vec<u8>, Error> {
        let mut data = vec![0u8; size as usize];
        if self.fill(&mut data)? < data.len() {
            return Err(Error::Truncated(self.after("a pax or long-name record")));
        }
        let pad = pad_of(size);
        if self.skip(pad)? < pad {
            return Err(Error::Truncated(self.after("a pax or long-name record")));
        }
        Ok(data)
    }

    fn skip_sparse_extensions(&mut self) -> Result<(), Error> {
        loop {
            let mut block = [0u8; BLOCK];
            if self.fill(&mut block)? < BLOCK {
                return Err(Error::Truncated(self.after("a sparse header")));
            }
            if block[504] == 0 {
                return Ok(());
            }
        }
    }

    /// Read as much of `buf` as the stream has; fewer bytes only at its end.
    fn fill(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let mut got = 0;
        while got < buf.len() {
            match self.r.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::Io(e)),
            }
        }
        self.offset += got as u64;
        Ok(got)
    }

    fn skip(&mut self, n: u64) -> Result<u64, Error> {
        let got = self.r.skip(n, &mut self.scratch)?;
        self.offset += got;
        Ok(got)
    }

    /// "the data of entry NAME", for an archive cut inside it.
    fn data_of(&self) -> String {
        format!(
            "the data of entry {}",
            crate::output::escape_bytes(&self.last)
        )
    }

    fn after(&self, what: &str) -> String {
        if self.last.is_empty() {
            format!("{what} at byte {}", self.offset)
        } else {
            format!(
                "{what} after entry {}",
                crate::output::escape_bytes(&self.last)
            )
        }
    }
}

fn special_name(flag: u8) -> &'static str {
    match flag {
        b'x' => "pax",
        b'g' => "global pax",
        _ => "GNU long-name",
    }
}

fn pad_of(size: u64) -> u64 {
    (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64
}

fn cut_nul(b: &[u8]) -> &[u8] {
    b.iter().position(|&c| c == 0).map_or(b, |i| &b[..i])
}

struct RawHeader {
    name: Vec<u8>,
    link: Vec<u8>,
    flag: u8,
    mode: u32,
    uid: u64,
    gid: u64,
    size: u64,
    mtime: u64,
    gnu_extended: bool,
}

/// Decode one 512-byte header block.
fn raw_header(b: &[u8; BLOCK]) -> Result<RawHeader, String> {
    let sum =
        number(&b[148..156]).map_err(|_| "a header with an unreadable checksum".to_string())?;
    // The checksum counts its own field as eight spaces. Summing all 512 bytes with
    // no test per byte and then correcting for the field lets the compiler vectorize
    // the sum (the per-byte test made it half the CPU of a layer of small files).
    // Old writers summed signed bytes: that sum is only needed when the usual fails.
    let own = &b[148..156];
    let unsigned = b.iter().map(|&c| u32::from(c)).sum::<u32>()
        - own.iter().map(|&c| u32::from(c)).sum::<u32>()
        + 8 * 32;
    let signed = || {
        b.iter().map(|&c| i32::from(c as i8)).sum::<i32>()
            - own.iter().map(|&c| i32::from(c as i8)).sum::<i32>()
            + 8 * 32
    };
    if sum != u64::from(unsigned) && sum as i64 != i64::from(signed()) {
        return Err("a header whose checksum does not match (not a tar, or corrupt)".into());
    }
    let field = |r: std::ops::Range<usize>, what: &str| {
        number(&b[r]).map_err(|_| format!("a header with an unreadable {what} field"))
    };
    let ustar = &b[257..263] == b"ustar\0";
    let mut name = cut_nul(&b[0..100]).to_vec();
    if ustar {
        let prefix = cut_nul(&b[345..500]);
        if !prefix.is_empty() {
            let mut full = prefix.to_vec();
            full.push(b'/');
            full.extend_from_slice(&name);
            name = full;
        }
    }
    let gnu = &b[257..265] == b"ustar  \0";
    Ok(RawHeader {
        name,
        link: cut_nul(&b[157..257]).to_vec(),
        flag: b[156],
        mode: (field(100..108, "mode")? & 0o7777) as u32,
        uid: field(108..116, "uid")?,
        gid: field(116..124, "gid")?,
        size: field(124..136, "size")?,
        // A negative (base-256) time is not one a layer needs: the epoch.
        mtime: number(&b[136..148]).unwrap_or(0),
        gnu_extended: gnu && b[482] != 0,
    })
}

/// A numeric header field: octal text (NUL or space ended) or GNU base-256.
fn number(f: &[u8]) -> Result<u64, ()> {
    if f.first().is_some_and(|&c| c & 0x80 != 0) {
        // Base-256: big-endian, the top bit of the first byte is the marker; a
        // negative value (0xff) is not an id or a size.
        if f[0] == 0xff {
            return Err(());
        }
        let mut v: u64 = u64::from(f[0] & 0x7f);
        for &c in &f[1..] {
            v = v
                .checked_mul(256)
                .ok_or(())?
                .checked_add(u64::from(c))
                .ok_or(())?;
        }
        return Ok(v);
    }
    let t: &[u8] = {
        let s = f
            .iter()
            .position(|&c| c != b' ' && c != 0)
            .unwrap_or(f.len());
        let f = &f[s..];
        let e = f
            .iter()
            .position(|&c| c == b' ' || c == 0)
            .unwrap_or(f.len());
        &f[..e]
    };
    if t.is_empty() {
        return Ok(0);
    }
    let mut v: u64 = 0;
    for &c in t {
        if !(b'0'..=b'7').contains(&c) {
            return Err(());
        }
        v = v.checked_mul(8).ok_or(())? + u64::from(c - b'0');
    }
    Ok(v)
}

/// Parse pax records (`LEN KEY=VALUE\n`, LEN counting the whole record) into `p`.
fn parse_pax(mut data: &[u8], p: &mut Pax) -> Result<(), String> {
    while !data.is_empty() {
        let sp = data
            .iter()
            .position(|&c| c == b' ')
            .ok_or("a record without a length")?;
        let len: usize = std::str::from_utf8(&data[..sp])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or("a record whose length is not a number")?;
        if len <= sp + 1 || len > data.len() || data[len - 1] != b'\n' {
            return Err("a record whose length does not match its text".into());
        }
        let rec = &data[sp + 1..len - 1];
        data = &data[len..];
        let eq = rec
            .iter()
            .position(|&c| c == b'=')
            .ok_or("a record without '='")?;
        let (key, value) = (&rec[..eq], &rec[eq + 1..]);
        // Go's validPAXRecord: a key is not empty and has no NUL; names have no NUL.
        let name_key = matches!(key, b"path" | b"linkpath" | b"uname" | b"gname");
        if key.is_empty() || key.contains(&0) || name_key && value.contains(&0) {
            return Err("a record with an empty key or a NUL byte in it".into());
        }
        // An empty value keeps the header's own field (Go's mergePAX).
        let some = |v: &[u8]| Some(v.to_vec()).filter(|v| !v.is_empty());
        let num = || -> Result<u64, String> {
            std::str::from_utf8(value)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| {
                    format!(
                        "{} is not a number",
                        String::from_utf8_lossy(key).into_owned()
                    )
                })
        };
        let num = || {
            if value.is_empty() {
                Ok(None)
            } else {
                num().map(Some)
            }
        };
        match key {
            b"path" => p.path = some(value),
            b"linkpath" => p.linkpath = some(value),
            b"size" => p.size = num()?,
            b"uid" => p.uid = num()?,
            b"gid" => p.gid = num()?,
            b"GNU.sparse.name" => p.sparse_name = some(value),
            b"GNU.sparse.major" => p.sparse_major = some(value),
            b"GNU.sparse.minor" => p.sparse_minor = some(value),
            b"GNU.sparse.map" => p.sparse_map = !value.is_empty(),
            b"GNU.sparse.offset" | b"GNU.sparse.numbytes" => p.sparse_map = true,
            k if k == SCHILY_CAP => p.schily = Some(value.to_vec()),
            k if k == MISSPELT_CAP => p.misspelt = Some(value.to_vec()),
            // Fractions are dropped: a layer keeps whole seconds (as Go's writer
            // does for ustar-representable times).
            b"mtime" => {
                let whole = value.split(|&c| c == b'.').next().unwrap_or(b"");
                p.mtime = std::str::from_utf8(whole).ok().and_then(|s| s.parse().ok());
            }
            k if k.starts_with(b"SCHILY.xattr.") => {
                let name = k[b"SCHILY.xattr.".len()..].to_vec();
                p.xattrs.retain(|(n, _)| *n != name);
                p.xattrs.push((name, value.to_vec()));
            }
            k if k == LIBARCHIVE_CAP => match base64(value) {
                Some(v) => p.libarchive = Some(v),
                None => p.bad_base64 = true,
            },
            _ => {}
        }
    }
    Ok(())
}

/// Decode base64 (standard alphabet, padding optional: libarchive writes none).
pub fn base64(text: &[u8]) -> Option<Vec<u8>> {
    let text = text
        .strip_suffix(b"==")
        .or_else(|| text.strip_suffix(b"="))
        .unwrap_or(text);
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &c in text {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    // Leftover bits must be zero padding, and a lone sixth of a byte is not base64.
    if bits >= 6 || acc & ((1 << bits) - 1) != 0 {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &str, flag: u8, size: u64) -> [u8; BLOCK] {
        let mut b = [0u8; BLOCK];
        b[..name.len()].copy_from_slice(name.as_bytes());
        b[100..107].copy_from_slice(b"0000755");
        b[108..115].copy_from_slice(b"0000000");
        b[116..123].copy_from_slice(b"0000000");
        b[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        b[136..147].copy_from_slice(b"00000000000");
        b[156] = flag;
        b[257..263].copy_from_slice(b"ustar\0");
        b[263..265].copy_from_slice(b"00");
        b[148..156].copy_from_slice(b"        ");
        let sum: u32 = b.iter().map(|&c| u32::from(c)).sum();
        b[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        b
    }

    fn pax(records: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (k, v) in records {
            let body = 1 + k.len() + 1 + v.len() + 1;
            let mut len = body + 1;
            while format!("{len}").len() + body != len {
                len = format!("{len}").len() + body;
            }
            out.extend(format!("{len} {k}=").as_bytes());
            out.extend(*v);
            out.push(b'\n');
        }
        out
    }

    fn entry(out: &mut Vec<u8>, name: &str, flag: u8, data: &[u8]) {
        out.extend(header(name, flag, data.len() as u64));
        out.extend(data);
        out.resize(out.len() + pad_of(data.len() as u64) as usize, 0);
    }

    #[test]
    fn pax_capability_records_and_long_names() {
        let mut t = Vec::new();
        let cap = [
            0u8, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        entry(
            &mut t,
            "PaxHeaders/a",
            b'x',
            &pax(&[("SCHILY.xattr.security.capability", &cap)]),
        );
        entry(&mut t, "usr/bin/a", b'0', b"hello");
        entry(
            &mut t,
            "PaxHeaders/b",
            b'x',
            &pax(&[(
                "LIBARCHIVE.xattr.security.capability",
                b"AAAAAgAgAAAAAAAAAAAAAAAAAAA",
            )]),
        );
        entry(&mut t, "usr/bin/b", b'0', b"");
        let long = "d/".repeat(80) + "f";
        entry(&mut t, "././@LongLink", b'L', long.as_bytes());
        entry(&mut t, "short", b'0', b"x");
        // No end blocks, no padding after the last entry: Go's reader accepts it.
        t.truncate(t.len() - 511);
        let mut r = Reader::new(&t[..]);
        let a = r.next_entry().unwrap().unwrap();
        assert_eq!(a.name, b"usr/bin/a");
        assert_eq!(a.cap, Some(CapRecord::Schily(cap.to_vec())));
        assert_eq!(r.head(3).unwrap(), b"hel");
        let b = r.next_entry().unwrap().unwrap();
        assert_eq!(b.cap, Some(CapRecord::LibarchiveOnly(cap.to_vec())));
        let c = r.next_entry().unwrap().unwrap();
        assert_eq!(c.name, long.as_bytes());
        assert!(c.cap.is_none());
        assert!(r.next_entry().unwrap().is_none());
    }

    /// The header rules of Go's `archive/tar` reader (moby's, containerd's and
    /// umoci's), one by one.
    #[test]
    fn headers_read_as_gos_reader_reads_them() {
        let cap = [
            1u8, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        let mut t = Vec::new();
        // A global header changes no later entry.
        let g = pax(&[
            ("path", b"global"),
            ("uid", b"7"),
            ("SCHILY.xattr.security.capability", &cap),
        ]);
        entry(&mut t, "pax_global_header", b'g', &g);
        entry(&mut t, "a", b'0', b"");
        // An empty value keeps the header's own field.
        entry(
            &mut t,
            "PaxHeaders/b",
            b'x',
            &pax(&[("path", b""), ("uid", b""), ("size", b"")]),
        );
        entry(&mut t, "b", b'0', b"xy");
        // A GNU long name wins over a pax path, whichever comes first.
        entry(&mut t, "PaxHeaders/c", b'x', &pax(&[("path", b"from-pax")]));
        entry(&mut t, "././@LongLink", b'L', b"from-long-name\0");
        entry(&mut t, "c", b'0', b"");
        entry(&mut t, "././@LongLink", b'L', b"long-first");
        entry(
            &mut t,
            "PaxHeaders/c",
            b'x',
            &pax(&[("path", b"pax-second")]),
        );
        entry(&mut t, "c2", b'0', b"");
        // GNU.sparse.name renames only a real pax sparse file.
        entry(
            &mut t,
            "PaxHeaders/d",
            b'x',
            &pax(&[("GNU.sparse.name", b"renamed")]),
        );
        entry(&mut t, "d", b'0', b"");
        let sparse = pax(&[
            ("GNU.sparse.major", b"1"),
            ("GNU.sparse.minor", b"0"),
            ("GNU.sparse.name", b"sparse"),
        ]);
        entry(&mut t, "PaxHeaders/e", b'x', &sparse);
        entry(&mut t, "GNUSparseFile.0/e", b'0', b"");
        // A second 'x' header replaces the first, it does not add to it.
        entry(
            &mut t,
            "PaxHeaders/f",
            b'x',
            &pax(&[("SCHILY.xattr.security.capability", &cap)]),
        );
        entry(&mut t, "PaxHeaders/f", b'x', &pax(&[("uid", b"5")]));
        entry(&mut t, "f", b'0', b"");
        // A global header ends what the headers before it said.
        entry(&mut t, "PaxHeaders/h", b'x', &pax(&[("path", b"lost")]));
        entry(
            &mut t,
            "pax_global_header",
            b'g',
            &pax(&[("comment", b"x")]),
        );
        entry(&mut t, "h", b'0', b"");
        t.extend([0u8; 1024]);
        let mut r = Reader::new(&t[..]);
        let mut next = || r.next_entry().unwrap().unwrap();
        let a = next();
        assert_eq!((&a.name[..], a.uid, &a.cap), (&b"a"[..], 0, &None));
        let b = next();
        assert_eq!((&b.name[..], b.uid, b.size), (&b"b"[..], 0, 2));
        assert_eq!(next().name, b"from-long-name");
        assert_eq!(next().name, b"long-first");
        assert_eq!(next().name, b"d");
        assert_eq!(next().name, b"sparse");
        let f = next();
        assert_eq!((f.uid, &f.cap), (5, &None));
        assert_eq!(next().name, b"h");
        assert!(r.next_entry().unwrap().is_none());
        // A header after one zero block is an error in Go's reader.
        let mut z = Vec::new();
        entry(&mut z, "a", b'0', b"");
        z.extend([0u8; 512]);
        entry(&mut z, "b", b'0', b"");
        let mut r = Reader::new(&z[..]);
        r.next_entry().unwrap().unwrap();
        assert!(matches!(r.next_entry(), Err(Error::Malformed(_))));
        // The misspelt record is kept apart: no runtime applies it.
        let mut m = Vec::new();
        entry(
            &mut m,
            "PaxHeaders/m",
            b'x',
            &pax(&[("SCHILY.xattrs.security.capability", &cap)]),
        );
        entry(&mut m, "m", b'0', b"");
        let got = Reader::new(&m[..]).next_entry().unwrap().unwrap();
        assert_eq!(got.cap, Some(CapRecord::Misspelt(cap.to_vec())));
    }

    #[test]
    fn bad_archives_are_errors_not_panics() {
        let mut t = Vec::new();
        entry(&mut t, "a", b'0', &[7u8; 2000]);
        // Cut inside the data.
        let mut r = Reader::new(&t[..1000]);
        r.next_entry().unwrap().unwrap();
        assert!(matches!(r.next_entry(), Err(Error::Truncated(_))));
        // A corrupt header.
        let mut bad = t.clone();
        bad[10] ^= 0xff;
        assert!(matches!(
            Reader::new(&bad[..]).next_entry(),
            Err(Error::Malformed(_))
        ));
        // A header cut short.
        assert!(matches!(
            Reader::new(&t[..100]).next_entry(),
            Err(Error::Truncated(_))
        ));
        // An absurd pax size.
        let mut p = header("PaxHeaders/x", b'x', 1 << 30).to_vec();
        p.extend([0u8; 512]);
        assert!(matches!(
            Reader::new(&p[..]).next_entry(),
            Err(Error::Malformed(_))
        ));
        // A pax record whose length lies.
        let mut q = Vec::new();
        entry(&mut q, "PaxHeaders/x", b'x', b"99 path=a\n");
        entry(&mut q, "a", b'0', b"");
        assert!(matches!(
            Reader::new(&q[..]).next_entry(),
            Err(Error::Malformed(_))
        ));
    }

    #[test]
    fn base64_as_libarchive_writes_it() {
        assert_eq!(base64(b"aGVsbG8").unwrap(), b"hello");
        assert_eq!(base64(b"aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64(b"").unwrap(), b"");
        assert!(base64(b"a").is_none());
        assert!(base64(b"a$b=").is_none());
    }

    #[test]
    fn numbers_octal_and_base256() {
        assert_eq!(number(b"0000755\0"), Ok(0o755));
        assert_eq!(number(b"  755 \0"), Ok(0o755));
        assert_eq!(number(b"\0\0\0\0"), Ok(0));
        assert_eq!(number(&[0x80, 0, 0, 0, 0, 0, 0x01, 0x00]), Ok(256));
        assert!(number(b"12a").is_err());
        assert!(number(&[0xff; 8]).is_err());
    }
}
