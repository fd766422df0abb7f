#![no_main]
//! GA/T 467 frame decoder: any bytes, split at a point chosen by the input.
use bianmin_drivers::idcard::frame::{FrameDecoder, Reply};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data
        .first()
        .map(|b| usize::from(*b))
        .unwrap_or(0)
        .min(data.len());
    let mut dec = FrameDecoder::new();
    for part in [&data[..split], &data[split..]] {
        dec.push(part);
        while let Some(frame) = dec.next_frame() {
            if let Ok(body) = frame {
                if let Some(reply) = Reply::from_body(&body) {
                    let _ = bianmin_drivers::idcard::reader::decode_payload(&reply.data);
                }
            }
        }
    }
});
