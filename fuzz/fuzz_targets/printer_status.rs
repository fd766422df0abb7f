#![no_main]
//! DLE EOT reply interpretation.
use bianmin_drivers::printer::status::StatusBytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let byte = |i: usize| data.get(i).copied();
    let s = StatusBytes {
        printer: byte(0),
        offline_cause: byte(1),
        paper: byte(2),
    };
    let _ = s.state().resident_message();
});
