use super::*;

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_at(dir.path(), "T0001").unwrap();
    (dir, store)
}

/// What the platform makes of a record as sent: its sealed fields opened
/// with the platform's (here the published demo) private key.
fn platform_view(kind: RecordKind, json: &[u8]) -> serde_json::Value {
    let mut value: serde_json::Value = serde_json::from_slice(json).unwrap();
    let keys = bianmin_platform::seal::OpeningKeys::demo();
    assert!(bianmin_platform::api::open_record(kind, &mut value, "T0001", &keys).unwrap());
    value
}

fn app() -> NewApplication {
    NewApplication {
        service_code: "DEMO-SB-001".into(),
        service_name: "社会保障卡申领".into(),
        applicant: Applicant {
            name: "张三".into(),
            id_number: "11010119900307803X".into(),
            phone: "13800000000".into(),
            address: "北京市东城区演示路1号".into(),
            ..Default::default()
        },
        agent: None,
        form: serde_json::json!({"reason": "新办"}),
        ..Default::default()
    }
}

#[test]
fn receipts_are_sequential_valid_and_committed() {
    let (_d, store) = open();
    let a = store.enqueue_application(app()).unwrap();
    let b = store.enqueue_application(app()).unwrap();
    assert!(receipt::is_valid(&a.receipt_no) && receipt::is_valid(&b.receipt_no));
    let pa = receipt::parse(&a.receipt_no).unwrap();
    let pb = receipt::parse(&b.receipt_no).unwrap();
    assert_eq!(pb.seq, pa.seq + 1);
    let s = store.stats().unwrap();
    assert_eq!((s.pending, s.pending_applications), (2, 2));
    let batch = store.next_batch(RecordKind::Application, 10).unwrap();
    assert_eq!(batch.len(), 2);
    assert_eq!(batch[0].key, a.receipt_no, "oldest first");
    let sent = String::from_utf8(batch[0].json.to_vec()).unwrap();
    for personal in [
        "11010119900307803X",
        "张三",
        "13800000000",
        "演示路",
        "新办",
    ] {
        assert!(!sent.contains(personal), "{personal} is sealed: {sent}");
    }
    let clear: SealedApplicationWire = serde_json::from_slice(&batch[0].json).unwrap();
    assert_eq!(clear.masked_name, "张*");
    assert_eq!(clear.sealed.kid, "demo");
    let wire: ApplicationWire =
        serde_json::from_value(platform_view(RecordKind::Application, &batch[0].json)).unwrap();
    assert_eq!(wire.applicant.id_number, "11010119900307803X");
    assert_eq!(wire.applicant.name, "张三");
    assert_eq!(wire.form["reason"], "新办");
}

#[test]
fn results_ack_and_park() {
    let (_d, store) = open();
    let a = store.enqueue_application(app()).unwrap().receipt_no;
    let b = store.enqueue_application(app()).unwrap().receipt_no;
    store
        .apply_results(&[
            RecordResult {
                id: a.clone(),
                status: RecordStatus::Duplicate,
                reason: None,
            },
            RecordResult {
                id: b.clone(),
                status: RecordStatus::Rejected,
                reason: Some("bad form".into()),
            },
        ])
        .unwrap();
    let s = store.stats().unwrap();
    assert_eq!((s.pending, s.acked, s.parked), (0, 1, 1));
    assert_eq!(
        store.find(&b).unwrap().unwrap().last_error.as_deref(),
        Some("bad form")
    );
    store.retry(&b).unwrap();
    assert_eq!(store.stats().unwrap().pending, 1);
    assert!(store.retry(&a).is_err(), "acked records cannot be retried");
}

#[test]
fn purge_keeps_receipt_service_time_state() {
    let (_d, store) = open();
    let a = store.enqueue_application(app()).unwrap().receipt_no;
    store
        .apply_results(&[RecordResult {
            id: a.clone(),
            status: RecordStatus::Accepted,
            reason: None,
        }])
        .unwrap();
    assert_eq!(store.purge_expired(7).unwrap(), 0, "within retention");
    assert_eq!(store.purge_expired(0).unwrap(), 1);
    assert!(store.record_json(&a).unwrap().is_none());
    let row = store.find(&a).unwrap().unwrap();
    assert!(row.purged && row.state == RecordState::Acked);
    assert_eq!(row.service_code.as_deref(), Some("DEMO-SB-001"));
}

#[test]
fn parked_records_stay_sealed_for_the_platform_after_the_retention_period() {
    let (_d, store) = open();
    let parked = store.enqueue_application(app()).unwrap().receipt_no;
    let pending = store.enqueue_application(app()).unwrap().receipt_no;
    store
        .apply_results(&[RecordResult {
            id: parked.clone(),
            status: RecordStatus::Rejected,
            reason: Some("bad form".into()),
        }])
        .unwrap();
    assert_eq!(store.purge_expired(7).unwrap(), 0, "within retention");
    assert!(store.record_json(&parked).unwrap().is_some());
    // Retention over: the parked body stays, sealed to the platform (the
    // kiosk cannot read it), so a technician can still retry it.
    assert_eq!(store.purge_expired(0).unwrap(), 0, "nothing acknowledged");
    let json = store.record_json(&parked).unwrap().unwrap();
    assert!(!String::from_utf8_lossy(&json).contains("11010119900307803X"));
    let row = store.find(&parked).unwrap().unwrap();
    assert!(!row.purged && row.state == RecordState::Parked);
    assert_eq!(row.last_error.as_deref(), Some("bad form"));
    store.retry(&parked).unwrap();
    // A pending record is never purged, however old.
    assert!(store.record_json(&pending).unwrap().is_some());
}

#[test]
fn evaluation_level_checked() {
    let (_d, store) = open();
    let ev = |level| NewEvaluation {
        service_code: "X".into(),
        level,
        ..Default::default()
    };
    assert!(store.enqueue_evaluation(ev(0)).is_err());
    assert!(store.enqueue_evaluation(ev(6)).is_err());
    let id = store.enqueue_evaluation(ev(5)).unwrap();
    assert!(id.starts_with("EV-T0001-"));
}

#[test]
fn a_new_content_package_keeps_the_previous_for_rollback() {
    use crate::PackageSlot::{Current, Previous};
    let (_d, store) = open();
    assert!(store.content_package(Current).unwrap().is_none());
    store
        .install_content_package(Some("\"a\""), "v1", b"one")
        .unwrap();
    store
        .refuse_content_package(Some("\"x\""), "bad signature")
        .unwrap();
    assert_eq!(
        store.content_refusal().unwrap().unwrap().reason,
        "bad signature"
    );
    store
        .install_content_package(Some("\"b\""), "v2", b"two")
        .unwrap();
    assert!(store.content_refusal().unwrap().is_none());
    assert_eq!(
        store.content_package(Current).unwrap().unwrap().version,
        "v2"
    );
    assert_eq!(
        store.content_package(Previous).unwrap().unwrap().body,
        b"one"
    );
    // The same package again (the platform rolled back to it): no shuffle.
    store
        .install_content_package(Some("\"c\""), "v2", b"two")
        .unwrap();
    assert_eq!(
        store.content_package(Previous).unwrap().unwrap().version,
        "v1"
    );
    store.install_content_package(None, "v3", b"three").unwrap();
    assert_eq!(
        store.content_package(Previous).unwrap().unwrap().version,
        "v2"
    );
}

#[test]
fn catalogue_replaced_atomically() {
    let (_d, store) = open();
    assert!(store.catalogue().unwrap().is_none());
    store
        .replace_catalogue(Some("\"a\""), r#"{"version":"v1"}"#)
        .unwrap();
    assert!(store.replace_catalogue(Some("\"b\""), "{not json").is_err());
    let c = store.catalogue().unwrap().unwrap();
    assert_eq!(
        (c.etag.as_deref(), c.version.as_deref()),
        (Some("\"a\""), Some("v1"))
    );
}

#[test]
fn clock_in_the_past_is_detected_and_receipts_stay_monotonic() {
    let (_d, store) = open();
    let a = store.enqueue_application(app()).unwrap();
    store.debug_set_clock_offset_ms(-3 * 86_400_000);
    assert!(matches!(store.clock_check(), ClockCheck::Backwards { .. }));
    let b = store.enqueue_application(app()).unwrap();
    assert!(b.clock_suspect);
    assert!(b.created_at_ms >= a.created_at_ms);
    store.debug_set_clock_offset_ms(-(now_ms() - 86_400_000));
    assert!(matches!(
        store.clock_check(),
        ClockCheck::BeforeFloor { .. }
    ));
    assert!(store.clock_check().describe().contains("系统时间"));
}

#[test]
fn export_round_trip() {
    let (d, store) = open();
    store.enqueue_application(app()).unwrap();
    store
        .enqueue_evaluation(NewEvaluation {
            service_code: "X".into(),
            level: 4,
            ..Default::default()
        })
        .unwrap();
    let file = d.path().join("export.bin");
    assert_eq!(store.export(&file).unwrap(), 2);
    let raw = std::fs::read(&file).unwrap();
    assert!(!raw.windows(18).any(|w| w == b"11010119900307803X"));
    assert!(!raw.windows("张三".len()).any(|w| w == "张三".as_bytes()));
    let doc = store.read_export(&file).unwrap();
    assert_eq!(doc.as_array().unwrap().len(), 2);
    assert!(doc[0]["record"].get("applicant").is_none());
    // The platform opens what was exported with its own key: none to post.
    let record = serde_json::to_vec(&doc[0]["record"]).unwrap();
    assert_eq!(
        platform_view(RecordKind::Application, &record)["applicant"]["id_number"],
        "11010119900307803X"
    );
}

#[test]
fn version_1_outbox_migrates_keeping_ids_and_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let sealer = Sealer::load_or_create(dir.path(), true).unwrap();
    let key = "BM1-T0001-20261125-000007-X";
    {
        let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "INSERT INTO outbox (id, kind, key, service_code, created_at, state, body)
             VALUES (41, 'application', ?1, 'DEMO-SB-001', ?2, 'parked', ?3)",
            params![key, CLOCK_FLOOR_MS, sealer.seal(key, b"{\"x\":1}")],
        )
        .unwrap();
    }
    let store = Store::open_at(dir.path(), "T0001").unwrap();
    let old = store.find(key).unwrap().unwrap();
    assert_eq!((old.id, old.state), (41, RecordState::Parked));
    assert_eq!(&store.record_json(key).unwrap().unwrap()[..], b"{\"x\":1}");
    let new = store.enqueue_application(app()).unwrap().receipt_no;
    assert!(store.find(&new).unwrap().unwrap().id > 41);
    let conn = store.conn();
    let sql: String = one(&conn, "SELECT sql FROM sqlite_master WHERE name = 'outbox'");
    assert!(!sql.contains("AUTOINCREMENT"), "{sql}");
    let counters: i64 = one(
        &conn,
        "SELECT COUNT(*) FROM sqlite_sequence WHERE name LIKE 'outbox%'",
    );
    assert_eq!(counters, 0, "no counter row is written per enqueue");
    let indexed: i64 = one(
        &conn,
        "SELECT COUNT(*) FROM sqlite_master WHERE name = 'outbox_pending'",
    );
    assert_eq!(indexed, 0, "migration 3 replaced the pending index");
}

#[test]
fn version_2_outbox_migrates_keeping_ids_states_and_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let sealer = Sealer::load_or_create(dir.path(), true).unwrap();
    let rows = [
        (41, "application", "BM1-T0001-20261125-000001-X", "pending"),
        (42, "application", "BM1-T0001-20261125-000002-X", "parked"),
        (43, "application", "BM1-T0001-20261125-000003-X", "acked"),
        (44, "heartbeat", "HB-T0001-20261125-000001", "pending"),
        (45, "application", "BM1-T0001-20261125-000004-X", "pending"),
    ];
    {
        let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.execute_batch(MIGRATIONS[1]).unwrap();
        conn.pragma_update(None, "user_version", 2).unwrap();
        for (id, kind, key, state) in rows {
            conn.execute(
                "INSERT INTO outbox (id, kind, key, created_at, state, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    id,
                    kind,
                    key,
                    CLOCK_FLOOR_MS,
                    state,
                    sealer.seal(key, key.as_bytes())
                ],
            )
            .unwrap();
        }
    }
    let store = Store::open_at(dir.path(), "T0001").unwrap();
    for (id, _, key, state) in rows {
        let s = store.find(key).unwrap().unwrap();
        assert_eq!((s.id, s.state.as_str()), (id, state));
        assert_eq!(
            &store.record_json(key).unwrap().unwrap()[..],
            key.as_bytes()
        );
    }
    let ids = |kind| -> Vec<i64> {
        store
            .next_batch(kind, 10)
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect()
    };
    assert_eq!(ids(RecordKind::Application), vec![41, 45]);
    assert_eq!(ids(RecordKind::Heartbeat), vec![44]);
    assert!(ids(RecordKind::Evaluation).is_empty());
    store.retry("42").unwrap();
    assert_eq!(ids(RecordKind::Application), vec![41, 42, 45]);
    let new = store.enqueue_application(app()).unwrap().receipt_no;
    assert_eq!(store.find(&new).unwrap().unwrap().id, 46);
    assert_eq!(ids(RecordKind::Application), vec![41, 42, 45, 46]);
    let user_version: i64 = store
        .conn()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(user_version, MIGRATIONS.len() as i64);
}

#[test]
fn pending_marks_follow_acknowledgements_and_retries() {
    let (_d, store) = open();
    let keys: Vec<String> = (0..4)
        .map(|_| store.enqueue_application(app()).unwrap().receipt_no)
        .collect();
    let hb = store.enqueue_heartbeat(NewHeartbeat::default()).unwrap();
    let answer = |k: &String, status| RecordResult {
        id: k.clone(),
        status,
        reason: Some("bad".into()),
    };
    store
        .apply_results(&[
            answer(&keys[0], RecordStatus::Accepted),
            answer(&keys[1], RecordStatus::Rejected),
            answer(&keys[2], RecordStatus::Accepted),
        ])
        .unwrap();
    let mark = |kind| pending_mark(&store.conn(), kind).unwrap();
    let id = |k: &String| store.find(k).unwrap().unwrap().id;
    assert_eq!(mark(RecordKind::Application), id(&keys[3]));
    assert_eq!(mark(RecordKind::Heartbeat), id(&hb));
    let pending: Vec<String> = store
        .next_batch(RecordKind::Application, 10)
        .unwrap()
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert_eq!(pending, vec![keys[3].clone()]);
    store.retry(&keys[1]).unwrap();
    assert_eq!(mark(RecordKind::Application), id(&keys[1]));
    let pending: Vec<String> = store
        .next_batch(RecordKind::Application, 10)
        .unwrap()
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert_eq!(pending, vec![keys[1].clone(), keys[3].clone()]);
    store
        .apply_results(&[
            answer(&keys[1], RecordStatus::Duplicate),
            answer(&keys[3], RecordStatus::Accepted),
            answer(&hb, RecordStatus::Accepted),
        ])
        .unwrap();
    let past_end = id(&hb) + 1;
    for kind in RecordKind::ALL {
        assert_eq!(mark(kind), past_end, "{kind:?}");
    }
    let next = store
        .enqueue_evaluation(NewEvaluation {
            service_code: "X".into(),
            level: 5,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        store.next_batch(RecordKind::Evaluation, 10).unwrap()[0].key,
        next
    );
}

#[test]
fn batch_acknowledgement_touches_only_the_answered_pending_records() {
    let (_d, store) = open();
    let keys: Vec<String> = (0..5)
        .map(|_| store.enqueue_application(app()).unwrap().receipt_no)
        .collect();
    let answer = |k: &String, status| RecordResult {
        id: k.clone(),
        status,
        reason: None,
    };
    store
        .apply_results(&[answer(&keys[1], RecordStatus::Rejected)])
        .unwrap();
    store
        .apply_results(&[
            answer(&keys[0], RecordStatus::Accepted),
            answer(&keys[1], RecordStatus::Accepted),
            answer(&keys[3], RecordStatus::Duplicate),
            answer(
                &"BM1-T0001-20261125-999999-X".to_string(),
                RecordStatus::Accepted,
            ),
        ])
        .unwrap();
    let state = |k: &String| store.find(k).unwrap().unwrap().state;
    assert_eq!(state(&keys[0]), RecordState::Acked);
    assert_eq!(
        state(&keys[1]),
        RecordState::Parked,
        "a parked record stays parked"
    );
    assert_eq!(state(&keys[2]), RecordState::Pending);
    assert_eq!(state(&keys[3]), RecordState::Acked);
    assert_eq!(state(&keys[4]), RecordState::Pending);
    let s = store.stats().unwrap();
    assert_eq!((s.pending, s.acked, s.parked), (2, 2, 1));
}

#[test]
fn an_enqueue_writes_two_pages_like_a_bare_insert() {
    let (dir, store) = open();
    store.enqueue_application(app()).unwrap();
    let wal = dir.path().join(format!("{DB_FILE}-wal"));
    let page: i64 = store
        .conn()
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap();
    let page = page as u64;
    let mut frames: Vec<u64> = (0..21)
        .map(|_| {
            let before = std::fs::metadata(&wal).unwrap().len();
            store.enqueue_application(app()).unwrap();
            (std::fs::metadata(&wal).unwrap().len() - before) / (page + 24)
        })
        .collect();
    frames.sort();
    // The row's page and the key index's page; an occasional page split adds more.
    assert_eq!(frames[10], 2, "WAL frames per enqueue: {frames:?}");
}

#[test]
fn the_engine_checkpoints_instead_of_a_residents_enqueue() {
    let (dir, store) = open();
    let autocheckpoint: i64 = one(&store.conn(), "PRAGMA wal_autocheckpoint");
    assert_eq!(autocheckpoint, WAL_AUTOCHECKPOINT_PAGES);
    for _ in 0..20 {
        store.enqueue_application(app()).unwrap();
    }
    let (frames, copied) = store.checkpoint().unwrap();
    assert!(frames >= 40, "two pages per enqueue: {frames}");
    assert_eq!(copied, frames, "nobody else reads: every frame is copied");
    // The database file alone now holds every record.
    let copy = tempfile::tempdir().unwrap();
    std::fs::copy(dir.path().join(DB_FILE), copy.path().join(DB_FILE)).unwrap();
    let alone = rusqlite::Connection::open(copy.path().join(DB_FILE)).unwrap();
    let n: i64 = one(&alone, "SELECT COUNT(*) FROM outbox");
    assert_eq!(n, 20);
}

#[test]
fn the_sender_reads_beside_an_open_write_transaction() {
    let (_dir, store) = open();
    for _ in 0..3 {
        store.enqueue_application(app()).unwrap();
    }
    // An acknowledgement being written holds the writer connection; the next
    // batch is still read, from the committed state.
    let mut writer = store.conn();
    let tx = writer
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .unwrap();
    tx.execute("UPDATE outbox SET attempts = attempts + 1", [])
        .unwrap();
    let batch = store.next_batch(RecordKind::Application, 10).unwrap();
    assert_eq!(batch.len(), 3);
    drop(tx);
}

/// The single value a query returns.
fn one<T: rusqlite::types::FromSql>(conn: &Connection, sql: &str) -> T {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn records_sealed_with_the_older_local_key_are_resealed_and_the_key_file_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let sealer = Sealer::load_or_create(dir.path(), true).unwrap();
    let key = "BM1-T0001-20261125-000001-X";
    let old = ApplicationWire {
        receipt_no: key.into(),
        terminal_id: "T0001".into(),
        service_code: "DEMO-SB-001".into(),
        service_name: "社会保障卡申领".into(),
        created_at: rfc3339(CLOCK_FLOOR_MS),
        assisted_by: None,
        applicant: app().applicant,
        agent: None,
        form: serde_json::json!({"reason": "新办"}),
        materials: Vec::new(),
        delivery: Delivery::Post {
            address: "北京市东城区演示路1号".into(),
        },
        signature_png: None,
    };
    {
        let mut conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
        for sql in &MIGRATIONS[..5] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 5).unwrap();
        let tx = conn.transaction().unwrap();
        tx.execute(
            "INSERT INTO outbox (id, kind, key, service_code, created_at, state, body)
             VALUES (1, 'application', ?1, 'DEMO-SB-001', ?2, 'pending', ?3)",
            params![
                key,
                CLOCK_FLOOR_MS,
                sealer.seal(key, &serde_json::to_vec(&old).unwrap())
            ],
        )
        .unwrap();
        tx.commit().unwrap();
    }
    let store = Store::open_at(dir.path(), "T0001").unwrap();
    assert!(
        !dir.path().join(crypto::KEY_FILE).exists(),
        "the local key is gone"
    );
    let batch = store.next_batch(RecordKind::Application, 10).unwrap();
    assert_eq!(batch.len(), 1);
    assert!(!String::from_utf8_lossy(&batch[0].json).contains("11010119900307803X"));
    let opened = platform_view(RecordKind::Application, &batch[0].json);
    assert_eq!(opened["applicant"]["name"], "张三");
    assert_eq!(opened["delivery"]["address"], "北京市东城区演示路1号");
    let found = store.applications_of("11010119900307803x", 10).unwrap();
    assert_eq!(
        found.records.len(),
        1,
        "the resealed record has its look-up hash"
    );
    drop(store);
    // Reopening without the key file is fine: nothing needs it any more.
    Store::open_at(dir.path(), "T0001").unwrap();
}

#[test]
fn look_ups_by_id_number_use_the_keyed_hash_only() {
    let (_d, store) = open();
    let a = store.enqueue_application(app()).unwrap().receipt_no;
    let mut other = app();
    other.applicant.id_number = "110101199003077777".into();
    store.enqueue_application(other).unwrap();
    let found = store.applications_of(" 11010119900307803x ", 10).unwrap();
    assert_eq!(found.records.len(), 1);
    assert_eq!(found.records[0].key, a);
    assert!(store
        .applications_of("110101199003071234", 10)
        .unwrap()
        .records
        .is_empty());
    // Another look-up key hashes differently: the hash cannot be checked
    // against guesses without the key, which only the platform hands out.
    let k1 = StoreKeys::new(SealingKey::demo(Suite::Intl));
    assert_eq!(k1.id_hash("11010119900307803X"), None, "no key yet");
    k1.set_lookup_key(&[1; 32]);
    let k2 = StoreKeys::new(SealingKey::demo(Suite::Intl));
    k2.set_lookup_key(&[2; 32]);
    assert_ne!(
        k1.id_hash("11010119900307803X"),
        k2.id_hash("11010119900307803X")
    );
}

/// Without the platform's look-up key (offline since the kiosk started)
/// applications are stored without a hash and the store says it cannot
/// search; once the key is held, new applications are found.
#[test]
fn without_the_look_up_key_nothing_is_hashed_or_found() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(
        dir.path(),
        "T0001",
        StoreKeys::new(SealingKey::demo(Suite::Intl)),
    )
    .unwrap();
    let before = store.enqueue_application(app()).unwrap().receipt_no;
    let found = store.applications_of("11010119900307803X", 10).unwrap();
    assert!(found.unsearchable && found.records.is_empty());
    store.set_lookup_key(&[7; 32]);
    let after = store.enqueue_application(app()).unwrap().receipt_no;
    let found = store.applications_of("11010119900307803X", 10).unwrap();
    assert!(!found.unsearchable);
    let keys: Vec<&str> = found.records.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, [after.as_str()], "{before} was stored without a hash");
}
