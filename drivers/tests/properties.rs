//! Property tests of the sans-IO codecs: round trips, chunking independence,
//! and "arbitrary bytes never panic" for every decoder (the same targets as
//! fuzz/, so they also run in the normal suite).

use bianmin_drivers::id_number::{check_character, mask_id, mask_name, validate};
use bianmin_drivers::idcard::frame::{encode_frame, FrameDecoder};
use bianmin_drivers::idcard::text::{decode_text_block, encode_text_block, CardKind, Identity};
use bianmin_drivers::printer::receipt::{build, Layout, Paper, Receipt, TextEncoding};
use bianmin_drivers::printer::sim::{Event, Interpreter};
use bianmin_drivers::printer::status::StatusBytes;
use bianmin_drivers::scanner::{classify, Framed, Framer, Suffix};
use proptest::prelude::*;

fn chunked(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort_unstable();
    points.dedup();
    let mut out = Vec::new();
    let mut last = 0;
    for p in points {
        out.push(bytes[last..p].to_vec());
        last = p;
    }
    out.push(bytes[last..].to_vec());
    out
}

fn decode_all(chunks: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut dec = FrameDecoder::new();
    let mut frames = Vec::new();
    for c in chunks {
        dec.push(c);
        while let Some(f) = dec.next_frame() {
            if let Ok(body) = f {
                frames.push(body);
            }
        }
    }
    frames
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn frames_round_trip_through_any_chunking_and_garbage(
        bodies in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..600), 1..4),
        garbage in prop::collection::vec(any::<u8>().prop_filter("no preamble tail", |b| *b != 0x69), 0..40),
        cuts in prop::collection::vec(any::<usize>(), 0..20),
    ) {
        let mut stream = garbage.clone();
        for b in &bodies {
            stream.extend(encode_frame(b));
        }
        let frames = decode_all(&chunked(&stream, &cuts));
        prop_assert_eq!(frames, bodies);
    }

    #[test]
    fn frame_decoder_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..4000), cuts in prop::collection::vec(any::<usize>(), 0..10)) {
        let _ = decode_all(&chunked(&bytes, &cuts));
    }

    #[test]
    fn text_block_decoder_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode_text_block(&bytes);
        let mut block = [0u8; 256];
        for (i, b) in bytes.iter().take(256).enumerate() { block[i] = *b; }
        let _ = decode_text_block(&block);
    }

    #[test]
    fn resident_text_block_round_trips(
        name in "[\u{4e00}-\u{9fa5}]{1,15}",
        gender in prop::sample::select(vec![0u8, 1, 2, 9]),
        eth in 1u8..=56,
        birth in "[0-9]{8}",
        address in "[\u{4e00}-\u{9fa5}0-9]{1,35}",
        number in "[0-9]{17}[0-9X]",
        authority in "[\u{4e00}-\u{9fa5}]{1,15}",
        until in prop::sample::select(vec!["20400101".to_string(), "长期".to_string()]),
    ) {
        let mut id = Identity::empty(CardKind::Resident);
        id.name = name; id.gender_code = gender; id.ethnicity_code = eth; id.birth = birth;
        id.address = address; id.id_number = number; id.authority = authority;
        id.valid_from = "20200101".into(); id.valid_until = until;
        prop_assert_eq!(decode_text_block(&encode_text_block(&id)).unwrap(), id);
    }

    #[test]
    fn foreigner_2023_english_name_survives_the_split(en in "[A-Z][A-Z ,.-]{0,44}[A-Z]") {
        let mut id = Identity::empty(CardKind::Foreigner2023);
        id.name_en = en.clone();
        id.id_number = "911250199203040028".into();
        let back = decode_text_block(&encode_text_block(&id)).unwrap();
        prop_assert_eq!(&back.name_en, &en);
    }

    #[test]
    fn check_character_is_the_only_valid_one(first17 in "[1-9][0-9]{5}(19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|1[0-9]|2[0-8])[0-9]{3}") {
        let good = check_character(&first17).unwrap();
        for c in "0123456789X".chars() {
            let number = format!("{first17}{c}");
            prop_assert_eq!(validate(&number).is_ok(), c == good, "{}", number);
        }
        prop_assert_eq!(mask_id(&format!("{first17}{good}")).chars().count(), 18);
    }

    #[test]
    fn validate_and_mask_never_panic(s in "\\PC{0,30}") {
        let _ = validate(&s);
        let _ = mask_id(&s);
        let masked = mask_name(&s);
        prop_assert!(masked.chars().count() <= s.trim().chars().count());
        let _ = classify(&s);
    }

    #[test]
    fn status_parser_never_panics(p in any::<Option<u8>>(), c in any::<Option<u8>>(), r in any::<Option<u8>>()) {
        let state = StatusBytes { printer: p, offline_cause: c, paper: r }.state();
        if !p.is_some_and(bianmin_drivers::printer::status::is_status_byte) {
            prop_assert_eq!(state, bianmin_drivers::printer::PrinterState::Disconnected);
        }
    }

    #[test]
    fn scanner_framing_is_independent_of_chunking(
        codes in prop::collection::vec("[ -~]{1,80}", 1..6),
        suffix in prop::sample::select(vec![Suffix::Cr, Suffix::Lf, Suffix::CrLf]),
        cuts in prop::collection::vec(any::<usize>(), 0..20),
    ) {
        let mut stream = Vec::new();
        for c in &codes { stream.extend_from_slice(c.as_bytes()); stream.extend_from_slice(suffix.bytes()); }
        let mut f = Framer::new(suffix, 512);
        let mut got = Vec::new();
        for chunk in chunked(&stream, &cuts) {
            got.extend(f.push(&chunk));
        }
        let want: Vec<Framed> = codes.into_iter().map(Framed::Code).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn scanner_framer_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..2000), max in 1usize..600) {
        let mut f = Framer::new(Suffix::Cr, max);
        for framed in f.push(&bytes) {
            if let Framed::Code(c) = framed {
                prop_assert!(c.len() <= max * 3, "decoded code longer than the limit allows");
                prop_assert!(!c.chars().any(char::is_control));
            }
        }
    }

    #[test]
    fn interpreter_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..3000), cuts in prop::collection::vec(any::<usize>(), 0..10)) {
        let mut i = Interpreter::new(TextEncoding::Gb18030);
        for chunk in chunked(&bytes, &cuts) {
            let _ = i.feed(&chunk);
        }
    }

    #[test]
    fn printed_receipts_read_back_identically_in_any_chunking(
        number in "BM1-T[0-9]{4}-2026[01][0-9][0-2][0-9]-[0-9]{6}-[A-Z]",
        service in "[\u{4e00}-\u{9fa5}]{1,30}",
        native in any::<bool>(),
        narrow in any::<bool>(),
        cuts in prop::collection::vec(any::<usize>(), 0..30),
    ) {
        let receipt = Receipt {
            title: "受理回执".into(), station: "演示站".into(), time: "2026-11-25 10:00".into(),
            receipt_number: number.clone(), service_name: service.clone(),
            materials: vec!["身份证".into()], next_step: String::new(), note: String::new(), qr: number.clone(),
        };
        let layout = Layout { paper: if narrow { Paper::Mm58 } else { Paper::Mm80 }, native_qr: native, ..Layout::default() };
        let bytes = build(&receipt, &layout).unwrap();
        let mut whole = Interpreter::new(TextEncoding::Gb18030);
        let expected = whole.feed(&bytes);
        let mut pieces = Interpreter::new(TextEncoding::Gb18030);
        let mut got = Vec::new();
        for chunk in chunked(&bytes, &cuts) { got.extend(pieces.feed(&chunk)); }
        prop_assert_eq!(&got, &expected);
        prop_assert_eq!(expected.len(), 1);
        let Event::Cut(r) = &expected[0] else { panic!("expected a cut") };
        prop_assert!(r.text().contains(&number));
        prop_assert!(r.text().replace(['\n', ' '], "").contains(&service));
        if native { prop_assert_eq!(r.qr_payloads(), vec![number]); }
        prop_assert_eq!(pieces.unknown, 0);
    }
}
