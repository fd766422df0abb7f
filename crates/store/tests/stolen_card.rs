//! A stolen SD card reveals nobody: the data directory of a kiosk that took
//! 100 applications (some sent, some refused, some waiting, an export made)
//! is copied whole, as it is while the kiosk runs (WAL and all), to a fresh
//! place; no name, ID number, phone number or address can be found in any
//! file, in UTF-8 or UTF-16, nor after trying every piece of key material
//! found there — as the platform's private key, as the older local key, and
//! as the in-memory epoch key every value of an epoch is sealed under. In
//! both suites.

use bianmin_platform::api::open_record;
use bianmin_platform::api::{Applicant, Delivery, RecordKind, RecordResult, RecordStatus};
use bianmin_platform::seal::{OpeningKey, OpeningKeys, Suite};
use bianmin_store::crypto::Sealer;
use bianmin_store::{NewApplication, NewEvaluation, Store, StoreKeys};
use std::path::{Path, PathBuf};

const APPLICATIONS: usize = 100;

struct Resident {
    name: String,
    id_number: String,
    phone: String,
    address: String,
}

/// Distinct people, so each one is looked for on its own.
fn resident(i: usize) -> Resident {
    const SURNAMES: [&str; 10] = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴"];
    const GIVEN: [&str; 10] = [
        "秀英", "建国", "桂兰", "志强", "淑珍", "海燕", "德明", "玉梅", "春生", "丽华",
    ];
    let name = format!(
        "{}{}{}",
        SURNAMES[i % 10],
        GIVEN[(i / 10) % 10],
        ["", "娟"][i % 2]
    );
    // A valid-looking 18-digit number per resident (region, birth date, sequence).
    let body = format!(
        "3301{:02}19{:02}0{}{:02}{:03}",
        i % 90 + 10,
        40 + i % 50,
        1 + i % 9,
        10 + i % 18,
        i
    );
    let id_number = format!("{body}{}", ["X", "7"][i % 2]);
    Resident {
        name,
        id_number,
        phone: format!("139{:08}", 10_000_000 + i * 7919),
        address: format!("浙江省杭州市西湖区文三路{}号{}室", 100 + i, 200 + i),
    }
}

fn application(r: &Resident) -> NewApplication {
    NewApplication {
        service_code: "DEMO-SB-001".into(),
        service_name: "社会保障卡申领".into(),
        assisted_by: None,
        applicant: Applicant {
            name: r.name.clone(),
            id_number: r.id_number.clone(),
            phone: r.phone.clone(),
            address: r.address.clone(),
            ..Default::default()
        },
        agent: None,
        form: serde_json::json!({"contact_phone": r.phone, "home": r.address, "holder": r.name}),
        materials: Vec::new(),
        delivery: Delivery::Post {
            address: r.address.clone(),
        },
        signature_png: Some(vec![0x89, b'P', b'N', b'G']),
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        if entry.file_type().unwrap().is_dir() {
            out.extend(files(&entry.path()));
        } else {
            out.push(entry.path());
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && memchr::memmem::find(hay, needle).is_some()
}

/// `text` as UTF-8, UTF-16LE and UTF-16BE bytes.
fn forms(text: &str) -> Vec<Vec<u8>> {
    let le: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
    let be: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
    vec![text.as_bytes().to_vec(), le, be]
}

/// Everything in the copy that could be a key: small files whole, and
/// every base64 or hex token decoding to 32 bytes or more (its first and
/// last 32 bytes).
fn key_candidates(copy: &[(PathBuf, Vec<u8>)]) -> Vec<Vec<u8>> {
    use base64::Engine as _;
    let mut keys = Vec::new();
    for (_, bytes) in copy {
        if bytes.len() <= 64 {
            keys.push(bytes.clone());
        }
        for token in bytes.split(|b| !(b.is_ascii_alphanumeric() || b"+/=".contains(b))) {
            if token.len() < 43 {
                continue;
            }
            let text = String::from_utf8_lossy(token);
            for decoded in [
                base64::engine::general_purpose::STANDARD
                    .decode(text.as_bytes())
                    .ok(),
                hex::decode(text.as_bytes()).ok(),
            ]
            .into_iter()
            .flatten()
            {
                // A key may hide at either end of a longer blob too.
                if decoded.len() >= 32 {
                    keys.push(decoded[..32].to_vec());
                    keys.push(decoded[decoded.len() - 32..].to_vec());
                }
            }
        }
    }
    keys
}

/// Every record body in the copied database, as a thief reads it: (kind,
/// key, body).
fn bodies(dir: &Path) -> Vec<(String, String, Vec<u8>)> {
    let db = rusqlite::Connection::open(dir.join(bianmin_store::DB_FILE)).unwrap();
    let mut stmt = db
        .prepare("SELECT kind, key, body FROM outbox WHERE body IS NOT NULL")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// 32 bytes from the operating system (what the platform hands out).
fn rand_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    let mut urandom = std::fs::File::open("/dev/urandom").unwrap();
    std::io::Read::read_exact(&mut urandom, &mut key).unwrap();
    key
}

fn stolen_card(suite: Suite) {
    let kiosk = tempfile::tempdir().unwrap();
    let data = kiosk.path().join("data");
    // The platform's key pair: the private half never reaches the kiosk.
    let platform = OpeningKey::generate(suite, "2026-01");
    // The look-up key as the platform hands it out: in memory only.
    let keys = StoreKeys::new(platform.sealing_key());
    keys.set_lookup_key(&rand_key());
    let store = Store::open_with(&data, "T0001", keys).unwrap();
    let people: Vec<Resident> = (0..APPLICATIONS).map(resident).collect();
    let mut receipts = Vec::new();
    for r in &people {
        receipts.push(
            store
                .enqueue_application(application(r))
                .unwrap()
                .receipt_no,
        );
    }
    store
        .enqueue_evaluation(NewEvaluation {
            receipt_no: Some(receipts[0].clone()),
            service_code: "DEMO-SB-001".into(),
            level: 2,
            comment: format!("补充说明：我是{}，电话{}", people[0].name, people[0].phone),
        })
        .unwrap();
    // Forty sent and acknowledged, ten refused (parked), fifty waiting.
    let results: Vec<RecordResult> = receipts[..50]
        .iter()
        .enumerate()
        .map(|(i, id)| RecordResult {
            id: id.clone(),
            status: if i < 40 {
                RecordStatus::Accepted
            } else {
                RecordStatus::Rejected
            },
            reason: (i >= 40).then(|| "材料不符".into()),
        })
        .collect();
    store.apply_results(&results).unwrap();
    std::fs::create_dir_all(data.join("exports")).unwrap();
    store.export(&data.join("exports/usb-export.json")).unwrap();
    assert_eq!(
        store
            .applications_of(&people[60].id_number, 10)
            .unwrap()
            .records
            .len(),
        1
    );

    // The card is pulled from the running kiosk and copied whole.
    let thief = tempfile::tempdir().unwrap();
    copy_dir(&data, thief.path());
    let copy: Vec<(PathBuf, Vec<u8>)> = files(thief.path())
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    assert!(
        copy.iter()
            .any(|(p, _)| p.to_string_lossy().ends_with("-wal")),
        "copied with its WAL, as from a running kiosk"
    );
    let all: Vec<u8> = copy.iter().flat_map(|(_, b)| b.iter().copied()).collect();
    // The scan sees what is meant to stay readable: receipt numbers and
    // masked names (so a miss below is not a blind scan).
    assert!(contains(&all, receipts[99].as_bytes()));
    assert!(contains(&all, "王*".as_bytes()) || contains(&all, "王**".as_bytes()));

    let mut needles: Vec<(String, Vec<u8>)> = Vec::new();
    for r in &people {
        for text in [&r.name, &r.id_number, &r.phone, &r.address] {
            for form in forms(text) {
                needles.push((text.clone(), form));
            }
        }
        needles.push((r.id_number.clone(), r.id_number.to_lowercase().into_bytes()));
    }
    for (path, bytes) in &copy {
        for (what, needle) in &needles {
            assert!(
                !contains(bytes, needle),
                "{} holds {what:?}",
                path.display()
            );
        }
    }

    // Every piece of key material found there, tried on every sealed block:
    // as the platform's private key of either suite, and as the older local
    // ChaCha20-Poly1305 key on every stored body.
    let mut candidates = key_candidates(&copy);
    candidates.sort();
    candidates.dedup();
    let rows = bodies(thief.path());
    assert_eq!(rows.len(), APPLICATIONS + 1, "every body is in the copy");
    let sealed_rows = rows
        .iter()
        .filter(|(_, _, body)| {
            serde_json::from_slice::<serde_json::Value>(body)
                .is_ok_and(|v| v.get("sealed").is_some())
        })
        .count();
    assert_eq!(sealed_rows, APPLICATIONS + 1);
    let mut tried = 0;
    for key in &candidates {
        let mut openers = Vec::new();
        for text in [
            format!("x25519:{}", base64_of(key)),
            format!("sm2:{}", base64_of(key)),
        ] {
            // Under the id the records name, so the key is actually tried.
            if let Ok(opener) = OpeningKey::parse(&text, "2026-01") {
                openers.push(OpeningKeys::new(vec![opener]));
            }
        }
        let scratch = tempfile::tempdir().unwrap();
        std::fs::write(scratch.path().join("outbox.key"), key).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(
            scratch.path().join("outbox.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        let local = Sealer::load_existing(scratch.path()).ok().flatten();
        for (kind, id, body) in &rows {
            let kind = RecordKind::parse(kind).unwrap();
            for opener in &openers {
                let mut record: serde_json::Value = serde_json::from_slice(body).unwrap();
                tried += 1;
                assert!(
                    open_record(kind, &mut record, "T0001", opener).is_err(),
                    "a key found on the card opens {id}"
                );
            }
            if let Some(local) = &local {
                tried += 1;
                assert!(
                    local.open(id, body).is_none(),
                    "the local cipher opens {id}"
                );
            }
            tried += 1;
            assert!(
                !opens_as_epoch_key(kind, body, key),
                "a key found on the card opens {id} as its epoch key"
            );
        }
    }
    eprintln!(
        "{suite:?}: {} key candidates, {tried} attempts to open",
        candidates.len()
    );
    assert!(tried > 0 || candidates.is_empty());

    // The ID-number look-up hashes cannot be checked against guesses: with
    // every key candidate on the card, the terminal id, and the terminal
    // secret (on the same card, in /etc/bianmin/secrets.env) — used
    // directly or as the older derivation did — no resident's number hashes
    // to what the outbox holds.
    let db = rusqlite::Connection::open(thief.path().join(bianmin_store::DB_FILE)).unwrap();
    let hashes: Vec<Vec<u8>> = db
        .prepare("SELECT id_hash FROM outbox WHERE id_hash IS NOT NULL")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(hashes.len(), APPLICATIONS, "every application is hashed");
    let mut guesses = candidates.clone();
    for known in [&b"T0001"[..], &b"terminal secret"[..]] {
        guesses.push(known.to_vec());
        guesses.push(
            suite
                .hmac(known, b"bianmin id-number look-up key v1")
                .to_vec(),
        );
        guesses.push(
            suite
                .hmac(known, b"bianmin id-number look-up key v1 (no secret)")
                .to_vec(),
        );
    }
    for key in &guesses {
        for r in &people {
            let guess = suite.hmac(key, r.id_number.as_bytes());
            assert!(
                !hashes.iter().any(|h| h[..] == guess[..]),
                "an ID number's hash is reproduced from what the card holds"
            );
        }
    }

    // What was sealed is all there for the platform, with its own key.
    let keys = OpeningKeys::new(vec![platform]);
    let json = store.record_json(&receipts[70]).unwrap().unwrap();
    let mut record: serde_json::Value = serde_json::from_slice(&json).unwrap();
    open_record(RecordKind::Application, &mut record, "T0001", &keys).unwrap();
    assert_eq!(record["applicant"]["name"], people[70].name);
    assert_eq!(record["delivery"]["address"], people[70].address);
}

/// Does `key` open the sealed block of `body` as the epoch key it was
/// sealed under (its 32 bytes for ChaCha20-Poly1305, its first 16 for
/// SM4-GCM; `ct` = nonce || ciphertext, bound to the record)?
fn opens_as_epoch_key(kind: RecordKind, body: &[u8], key: &[u8]) -> bool {
    use base64::Engine as _;
    let record: serde_json::Value = serde_json::from_slice(body).unwrap();
    let sealed = &record["sealed"];
    let id_field = if kind == RecordKind::Application {
        "receipt_no"
    } else {
        "id"
    };
    let aad = bianmin_platform::seal::record_aad(
        kind.as_str(),
        "T0001",
        record[id_field].as_str().unwrap_or(""),
    );
    let ct = base64::engine::general_purpose::STANDARD
        .decode(sealed["ct"].as_str().unwrap())
        .unwrap();
    if ct.len() < 12 + 16 {
        return false;
    }
    let (nonce, msg) = ct.split_at(12);
    match sealed["alg"].as_str().unwrap() {
        bianmin_platform::seal::ALG_HPKE_EPOCH => {
            if key.len() < 32 {
                return false;
            }
            use chacha20poly1305::aead::{Aead as _, KeyInit as _, Payload};
            chacha20poly1305::ChaCha20Poly1305::new_from_slice(&key[..32])
                .unwrap()
                .decrypt(nonce.into(), Payload { msg, aad: &aad })
                .is_ok()
        }
        bianmin_platform::seal::ALG_SM2 => {
            if key.len() < 16 {
                return false;
            }
            use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
            let nonce: &[u8; 12] = nonce.try_into().unwrap();
            aes_gcm::AesGcm::<sm4::Sm4, aes_gcm::aead::consts::U12>::new_from_slice(&key[..16])
                .unwrap()
                .decrypt(nonce.into(), Payload { msg, aad: &aad })
                .is_ok()
        }
        other => panic!("sealed with {other}, not an epoch alg"),
    }
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn a_stolen_card_reveals_nobody_intl() {
    stolen_card(Suite::Intl);
}

#[test]
fn a_stolen_card_reveals_nobody_gm() {
    stolen_card(Suite::Gm);
}
