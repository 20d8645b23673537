//! Manifests: never panic on any bytes; whatever parses prints (in the form `fcap
//! read -r` prints) to a manifest that parses back to the same files and values.
#![no_main]

use fcap::manifest;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let file = Path::new("fuzz.caps");
    let Ok(entries) = manifest::parse(file, data) else { return };
    let mut text = String::new();
    for e in entries.iter().filter(|e| e.caps.is_some()) {
        if let Some(c) = &e.caps {
            text.push_str(&manifest::line(&e.path, c));
            text.push('\n');
        }
    }
    let again = manifest::parse(file, text.as_bytes()).expect("printed manifest must parse");
    let want: Vec<_> = entries.iter().filter(|e| e.caps.is_some()).collect();
    assert_eq!(want.len(), again.len(), "{text}");
    for (w, g) in want.iter().zip(&again) {
        assert_eq!(w.path, g.path, "{text}");
        assert!(manifest::same(w.caps.as_ref(), g.caps.as_ref()), "{:?} vs {:?} in {text}", w.caps, g.caps);
    }
});
