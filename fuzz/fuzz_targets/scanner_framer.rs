#![no_main]
//! Scanner framing and classification.
use bianmin_drivers::scanner::{classify, Framed, Framer, Suffix};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let suffix = match data.first().map(|b| b % 3) {
        Some(0) => Suffix::Cr,
        Some(1) => Suffix::Lf,
        _ => Suffix::CrLf,
    };
    let mut f = Framer::new(suffix, 256);
    for chunk in data.chunks(7) {
        for framed in f.push(chunk) {
            if let Framed::Code(code) = framed {
                let _ = classify(&code);
            }
        }
    }
});
