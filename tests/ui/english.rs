//! In English mode the kiosk's own words are English on every screen: only
//! what the catalogue gives (service, category, form and material names,
//! guides), names (the resident's, the station's) and what the resident
//! typed may stay Chinese.

use bianmin_config::{Config, Language};
use bianmin_core::package::{document_of, DEMO_PACKAGE_JSON};
use bianmin_ui::audit::words_on_screens;

fn is_han(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}')
}

/// Every string of a content document (catalogue, forms, bundles, texts).
fn content_strings(json: &str, into: &mut Vec<String>) {
    fn walk(value: &serde_json::Value, into: &mut Vec<String>) {
        match value {
            serde_json::Value::String(s) => into.push(s.clone()),
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, into)),
            serde_json::Value::Object(map) => map.values().for_each(|v| walk(v, into)),
            _ => {}
        }
    }
    walk(
        &serde_json::from_str(json).expect("demo content parses"),
        into,
    );
}

/// What may stay Chinese: catalogue content and names, longest first so a
/// long name is removed before a shorter one inside it.
fn allowed() -> Vec<String> {
    let mut allowed = Vec::new();
    let demo = document_of(DEMO_PACKAGE_JSON).expect("the demo package parses");
    content_strings(
        &serde_json::to_string(&demo).expect("plain data serialises"),
        &mut allowed,
    );
    for card in bianmin_drivers::idcard::sim::demo_cards() {
        allowed.push(card.name.clone());
        allowed.push(card.address.clone());
        allowed.push(bianmin_core::id_number::mask_name(&card.name));
    }
    allowed.push(Config::default().station.name.clone());
    // What the sample resident types with the pinyin keyboard (zg → 中国):
    // the resident's own words, read back on 核对信息.
    allowed.push("中国".into());
    // What a resident wrote under a 差评, on the clerk's view: their words.
    allowed.push("排队的人太多".into());
    allowed.retain(|s| s.chars().any(is_han));
    allowed.sort_by_key(|s| std::cmp::Reverse(s.chars().count()));
    allowed.dedup();
    allowed
}

#[test]
fn english_screens_show_no_chinese_of_the_kiosks_own() {
    let allowed = allowed();
    let screens = words_on_screens(Language::En, (1280, 800)).unwrap();
    assert!(screens.len() > 20, "every screen is visited");
    let mut found = Vec::new();
    for (screen, words) in &screens {
        for word in words {
            // The language switch names Chinese in Chinese, so a reader of
            // Chinese finds it on an English screen: exactly that word.
            if word == "中文" {
                continue;
            }
            let mut rest = word.clone();
            for content in &allowed {
                rest = rest.replace(content.as_str(), " ");
            }
            if rest.chars().any(is_han) {
                found.push(format!("{screen}: {word:?}"));
            }
        }
    }
    found.sort();
    found.dedup();
    assert!(
        found.is_empty(),
        "{} Chinese words of the kiosk's own in English mode:\n{}",
        found.len(),
        found.join("\n")
    );
}
