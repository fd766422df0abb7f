//! Search as you type over a 5,000-item catalogue (target: under 5 ms per
//! keystroke), and the pinyin keyboard's candidate bar.
//!
//! The 5,000 items are the 40 demo services repeated under 125 synthetic
//! station names, so names, keywords and popularity keep the demo's shape.
//! Run with `cargo bench -p bianmin-core --bench search`: it builds only the
//! core and its few dependencies, never the UI stack.

use bianmin_core::catalogue::Catalogue;
use bianmin_core::ime::ImeIndex;
use bianmin_core::search::SearchIndex;
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::time::Instant;

const ITEMS: usize = 5_000;

fn synthetic_catalogue() -> Catalogue {
    let demo = Catalogue::demo();
    let places = ["东城", "西城", "朝阳", "海淀", "丰台"];
    let kinds = ["街道", "社区", "乡镇", "园区", "驿站"];
    let numbers = ["一", "二", "三", "四", "五"];
    let mut catalogue = demo.clone();
    catalogue.services = (0..ITEMS)
        .map(|i| {
            let base = &demo.services[i % demo.services.len()];
            let j = i / demo.services.len();
            let station = format!(
                "{}{}{}站",
                places[j % 5],
                kinds[(j / 5) % 5],
                numbers[(j / 25) % 5]
            );
            let mut service = base.clone();
            service.code = format!("SYN-{i:05}");
            service.name = format!("{}（{station}）", base.name);
            service.keywords.push(station);
            service.popularity = ((i * 37) % 100) as u8;
            service
        })
        .collect();
    catalogue
}

/// Every prefix of what a resident types, one search per keystroke.
fn keystrokes(index: &SearchIndex, typed: &str) -> usize {
    let mut found = 0;
    let mut prefix = String::new();
    for c in typed.chars() {
        prefix.push(c);
        found += index.search(black_box(&prefix), 20).len();
    }
    found
}

fn search(c: &mut Criterion) {
    let catalogue = synthetic_catalogue();
    let started = Instant::now();
    let index = SearchIndex::build(&catalogue);
    println!(
        "search index over {ITEMS} items built in {:?}",
        started.elapsed()
    );
    let mut group = c.benchmark_group("search-5000");
    for query in ["sbk", "shebaoka", "社保卡", "sbj", "gjj", "chusheng"] {
        group.bench_function(format!("one keystroke: {query}"), |b| {
            b.iter(|| index.search(black_box(query), 20))
        });
    }
    group.bench_function("typing shebaoka (8 keystrokes)", |b| {
        b.iter(|| keystrokes(&index, "shebaoka"))
    });
    group.finish();
}

fn ime(c: &mut Criterion) {
    let started = Instant::now();
    let index = ImeIndex::global();
    println!("pinyin keyboard index built in {:?}", started.elapsed());
    let mut group = c.benchmark_group("ime");
    for typed in ["zhang", "jiedao", "bj", "zhangsan", "xiaoqudanyuan"] {
        group.bench_function(format!("candidates: {typed}"), |b| {
            b.iter(|| index.candidates(black_box(typed), 10))
        });
    }
    group.finish();
}

criterion_group!(benches, search, ime);
criterion_main!(benches);
