//! security.capability bytes: never panic; a decoded value re-encodes to the same
//! bytes (v2/v3, with only the effective flag bit kept) and decodes to itself.
#![no_main]

use fcap::filecaps::FileCaps;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match FileCaps::decode(data) {
        Ok(f) => {
            let enc = f.encode();
            // v1 is re-encoded as v2, like libcap does on a 64-bit-capability kernel.
            let mut want_caps = f;
            want_caps.revision = if f.rootid.is_some() { 3 } else { 2 };
            assert_eq!(FileCaps::decode(&enc), Ok(want_caps));
            if f.revision != 1 {
                let mut want = data.to_vec();
                want[0] &= 1;
                want[1] = 0;
                want[2] = 0;
                assert_eq!(enc, want);
            }
            let _ = f.to_text();
        }
        Err(e) => {
            let _ = e.to_string();
            assert!(e.exec_errno() == 22 || e.exec_errno() == 34);
        }
    }
});
