//! A county's whole content package at start-up and at a swap: parsing,
//! verifying (Ed25519) and checking a signed package of 5,000 items and
//! 2,000 forms, then building the search index over it (issue 14's target:
//! under 300 ms on 2 cores, BENCHMARKS.md).
//!
//! The items are the demo services kept as they are (the demo bundles
//! name them) plus synthetic ones cloned from them under station
//! names; 2,000 of the items have a form of their own, cloned from the
//! demo forms. Run with `cargo bench -p bianmin-core --bench package`.

use bianmin_core::package::{self, TrustedKey, DEMO_KEY_ID, DEMO_PACKAGE_JSON};
use bianmin_core::search::SearchIndex;
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::time::Instant;

const ITEMS: usize = 5_000;
const FORMS: usize = 2_000;

const KEY_FILE: &str = include_str!("../../../config/content/demo-signing.key");

/// The synthetic sources, built and signed as a county would publish them.
fn signed_package() -> (String, usize) {
    let demo = package::document_of(DEMO_PACKAGE_JSON).unwrap();
    let (header, catalogue, forms, bundles) = demo.into_parts();
    let mut catalogue = serde_json::to_value(catalogue).unwrap();
    let mut forms = serde_json::to_value(forms).unwrap();
    let demo: Vec<serde_json::Value> = catalogue["services"].as_array().unwrap().clone();
    let demo_forms = forms["services"].as_object().unwrap().clone();
    let places = ["东城", "西城", "朝阳", "海淀", "丰台"];
    let mut services = demo.clone();
    let mut with_form = 0;
    for i in demo.len()..ITEMS {
        let base = &demo[i % demo.len()];
        let mut service = base.clone();
        let code = format!("SYN-{i:05}");
        service["code"] = code.clone().into();
        service["name"] = format!(
            "{}（{}第{}站）",
            base["name"].as_str().unwrap(),
            places[i % 5],
            i / 5
        )
        .into();
        if with_form < FORMS {
            if let Some(fields) = demo_forms.get(base["code"].as_str().unwrap()) {
                forms["services"][&code] = fields.clone();
                with_form += 1;
            }
        }
        services.push(service);
    }
    catalogue["services"] = services.into();
    catalogue["version"] = "bench-5000".into();
    let built = package::assemble(
        header,
        serde_json::from_value(catalogue).unwrap(),
        serde_json::from_value(forms).unwrap(),
        bundles,
    )
    .expect("the synthetic package builds");
    let signed = package::sign(&built, DEMO_KEY_ID, KEY_FILE).expect("signed");
    (signed, with_form + demo_forms.len())
}

fn load(c: &mut Criterion) {
    let (signed, forms) = signed_package();
    let keys = [TrustedKey::demo()];
    let started = Instant::now();
    let opened = package::open(signed.as_bytes(), &keys).expect("it verifies");
    let open_took = started.elapsed();
    let started = Instant::now();
    let index = SearchIndex::build(&opened.catalogue);
    let index_took = started.elapsed();
    println!(
        "package of {} items and {forms} forms ({:.1} MB signed): opened (verify + parse + check) in {open_took:?}, search index in {index_took:?}",
        opened.catalogue.services.len(),
        signed.len() as f64 / 1e6
    );
    drop(index);
    let mut group = c.benchmark_group("content-package-5000");
    group.sample_size(10);
    group.bench_function("open: verify + parse + check", |b| {
        b.iter(|| package::open(black_box(signed.as_bytes()), &keys).unwrap())
    });
    group.bench_function("search index rebuild after a swap", |b| {
        b.iter(|| SearchIndex::build(black_box(&opened.catalogue)))
    });
    group.bench_function("start-up: open, then index", |b| {
        b.iter(|| {
            let package = package::open(black_box(signed.as_bytes()), &keys).unwrap();
            SearchIndex::build(&package.catalogue)
        })
    });
    group.finish();
}

criterion_group!(benches, load);
criterion_main!(benches);
