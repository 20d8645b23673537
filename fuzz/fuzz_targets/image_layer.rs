//! Layer tars: the tar/pax reader and layer application never panic or hang on any
//! bytes, and never keep a path outside the image root (see image_layer_check.rs,
//! which tests/it/image_bad.rs also runs on the corpus and mutations of it).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "image_layer_check.rs"]
mod image_layer_check;

fuzz_target!(|data: &[u8]| image_layer_check::check(data));
