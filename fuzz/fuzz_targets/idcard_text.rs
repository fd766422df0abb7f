#![no_main]
//! The 256-byte UCS-2LE text block and the read-reply payload splitter.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = bianmin_drivers::idcard::text::decode_text_block(data);
    let mut block = [0x20u8; 256];
    for (i, b) in data.iter().take(256).enumerate() {
        block[i] = *b;
    }
    if let Ok(id) = bianmin_drivers::idcard::text::decode_text_block(&block) {
        let _ = bianmin_drivers::id_number::validate(&id.id_number);
        let _ = bianmin_drivers::id_number::mask_name(&id.name);
        let _ = bianmin_drivers::id_number::mask_id(&id.id_number);
    }
    let _ = bianmin_drivers::idcard::text::split_read_payload(data);
});
