//! The body of the `image_layer` fuzz target, shared with its bounded every-CI-run
//! version (tests/it/image_bad.rs includes this file): arbitrary bytes go through
//! the layer tar reader alone, then through layer application, as the first layer
//! and again on top of itself (so whiteouts, opaque directories, replacements and
//! hard links across layers run). Nothing may panic or loop, and whatever is kept
//! must be a clean image-absolute path: no name reaches outside the image root.

use fcap::filecaps::FileCaps;
use fcap::image::apply::{self, Shared, Want};
use fcap::image::tar::{CapRecord, Kind, Reader};

pub fn check(data: &[u8]) {
    // The reader alone: every entry, the first bytes of every regular file.
    let mut r = Reader::new(data);
    while let Ok(Some(h)) = r.next_entry() {
        if h.kind == Kind::Regular {
            let _ = r.head(64);
        }
        assert!(r.offset <= data.len() as u64, "read past the end");
    }
    // Layer application, keeping everything (read -v, verify's directories,
    // symlinks and heads).
    let want = Want {
        all: true,
        dirs: true,
        exec_heads: 64,
        ..Want::default()
    };
    let sh = Shared::new(&want);
    for layer in 0..2 {
        let mut r = Reader::new(data);
        let Ok(out) = apply::read_layer(&mut r, layer, &sh) else {
            break;
        };
        if apply::merge(&sh, layer, out).is_err() {
            break;
        }
    }
    let state = sh.state.read().unwrap_or_else(|e| e.into_inner());
    for (path, kept) in state.iter() {
        assert!(path.starts_with(b"/"), "{path:?} is not image-absolute");
        assert!(
            path == b"/"
                || path
                    .split(|&b| b == b'/')
                    .skip(1)
                    .all(|c| !c.is_empty() && c != b"." && c != b".."),
            "{path:?} is not clean"
        );
        if let Some(CapRecord::Schily(v) | CapRecord::LibarchiveOnly(v)) = &kept.cap {
            let _ = FileCaps::decode(v);
        }
    }
}
