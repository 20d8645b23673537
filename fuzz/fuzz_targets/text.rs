//! libcap text: never panic; what parses prints to canonical text that parses to the
//! same sets; canonical text is a fixed point; a file value built from it survives
//! encode/decode.
#![no_main]

use fcap::filecaps::FileCaps;
use fcap::text;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let Ok(t) = text::parse_with_count(s, 41) else { return };
    let canon = text::to_text_with_count(&t, 41);
    let again = text::parse_with_count(&canon, 41).expect("canonical text must parse");
    assert_eq!(again, t, "{s:?} -> {canon:?}");
    assert_eq!(text::to_text_with_count(&again, 41), canon);
    if let Ok(f) = FileCaps::from_text_sets(&t, None) {
        assert_eq!(FileCaps::decode(&f.encode()), Ok(f));
    }
});
