//! The floor under `fcap read --image`, in-process: the decompressors fcap links,
//! with nothing else.
//!
//!     cargo bench --bench image_floor -- [--sha256] BLOB...
//!
//! Reads each BLOB in turn, on one thread, through the same buffer size and the same
//! crates as fcap's image reader (flate2 on zlib-rs for gzip, the zstd crate for
//! zstd; a plain tar is only read), and throws the output away. With `--sha256` it
//! only computes each blob's SHA-256 (sha2, as fcap checks digests) and prints it.
//! `scripts/bench-image.sh` times it beside `gzip -dc`/`zstd -dc` and fcap: no
//! image reader built on these crates can take less CPU than this.

use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};

const BUF: usize = 1 << 17;

fn drain(mut r: impl Read, buf: &mut [u8]) -> std::io::Result<u64> {
    let mut n = 0;
    loop {
        match r.read(buf)? {
            0 => return Ok(n),
            k => n += k as u64,
        }
    }
}

fn one(path: &str, sha: bool, buf: &mut [u8]) -> std::io::Result<()> {
    let mut r = BufReader::with_capacity(BUF, File::open(path)?);
    if sha {
        let mut h = Sha256::new();
        loop {
            let k = r.read(buf)?;
            if k == 0 {
                break;
            }
            h.update(&buf[..k]);
        }
        let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        println!("{hex}  {path}");
        return Ok(());
    }
    let head = r.fill_buf()?;
    if head.starts_with(&[0x1f, 0x8b, 0x08]) {
        drain(flate2::bufread::MultiGzDecoder::new(r), buf)?;
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        drain(zstd::stream::read::Decoder::with_buffer(r)?, buf)?;
    } else {
        drain(r, buf)?;
    }
    Ok(())
}

fn main() {
    let mut sha = false;
    let mut buf = vec![0u8; BUF];
    for a in std::env::args().skip(1) {
        if a == "--sha256" {
            sha = true;
        } else if a != "--bench"
            && let Err(e) = one(&a, sha, &mut buf)
        {
            eprintln!("image_floor: {a}: {e}");
            std::process::exit(2);
        }
    }
}
