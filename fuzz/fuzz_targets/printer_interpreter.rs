#![no_main]
//! The virtual printer's ESC/POS interpreter, and rendering what it cut.
use bianmin_drivers::printer::sim::{render, Event, Interpreter};
use bianmin_drivers::printer::{Paper, TextEncoding};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut i = Interpreter::new(TextEncoding::Gb18030);
    for chunk in data.chunks(13) {
        for event in i.feed(chunk) {
            if let Event::Cut(receipt) = event {
                // Rendering is bounded: raster bands are capped at 1 MiB.
                if receipt.elements.len() < 64 {
                    let _ = render(&receipt, Paper::Mm58);
                }
            }
        }
    }
});
