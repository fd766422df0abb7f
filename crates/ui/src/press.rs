//! Pressing the kiosk the way a resident's finger does: a button is found by
//! its accessible label among what a finger can reach now (the topmost
//! overlay's buttons while one is up, else the screen's) and pressed through
//! its accessible default action; the signature pad gets pointer events.
//! `bianmin screens`, `bianmin walkthrough`, the UI audit and the UI tests
//! take every resident step through these (the rest is what the services
//! report, and time passing), so a button that lost its label, or a step no
//! finger can take, fails them.
//!
//! Labels are the Chinese source text; a button matches as written or as the
//! bundled English catalogue translates it, so an English kiosk is pressed
//! the same way.
//! Labels that come from data (categories, services, fields, materials,
//! choices) are read from the view model the screen shows, never guessed.

use crate::{AppWindow, ChoiceRow, Editor, Journey, Kiosk, MaterialRow, MaterialWay};
use anyhow::{bail, Context, Result};
use i_slint_backend_testing::{AccessibleRole, ElementHandle};
use slint::platform::{PointerEventButton, WindowEvent};
use slint::{ComponentHandle, LogicalPosition, Model, ModelRc};
use std::collections::HashMap;
use std::sync::OnceLock;

/// Overlays, topmost first: while one is up, nothing under it can be pressed.
pub const OVERLAYS: [&str; 5] = [
    "AdminOverlay",
    "IdleOverlay",
    "AssistOverlay",
    "NoticeOverlay",
    "FieldEditor",
];

/// The signature pad's white sheet.
pub const SIGNATURE_PAD: &str = "签名区域";

/// Turning pages of a list, a form or the materials.
pub const NEXT_PAGE: &str = "下一页";
pub const PREVIOUS_PAGE: &str = "上一页";

/// Most pages any list is turned through before giving up.
const MAX_PAGES: usize = 40;

/// The overlay a finger lands on now, if any.
pub fn top_overlay<C: ComponentHandle>(ui: &C) -> Option<ElementHandle> {
    let up = i_slint_backend_testing::ElementQuery::from_root(ui)
        .match_predicate(|e| overlay_name(e).is_some())
        .find_all();
    topmost(&up)
}

/// The topmost of the overlays among `elements`.
fn topmost(elements: &[ElementHandle]) -> Option<ElementHandle> {
    OVERLAYS.iter().find_map(|name| {
        elements
            .iter()
            .find(|e| overlay_name(e) == Some(*name))
            .cloned()
    })
}

/// Which of the `OVERLAYS` this element is, if any: the type it is
/// instantiated as, or one it inherits.
fn overlay_name(e: &ElementHandle) -> Option<&'static str> {
    let is = |name: &str| OVERLAYS.iter().copied().find(|overlay| *overlay == name);
    if let Some(found) = e.type_name().and_then(|name| is(&name)) {
        return Some(found);
    }
    e.bases()?.find_map(|base| is(&base))
}

/// Every button a finger can reach now, in tree order: while an overlay is
/// up, the overlay's and those it leaves uncovered (the header above the
/// keyboard), else the screen's (hidden ones are skipped). One walk of the
/// tree: every press asks.
pub fn reachable_buttons<C: ComponentHandle>(ui: &C) -> Vec<ElementHandle> {
    // The role is asked first: it is cheap, the type names are not, and
    // most elements are buttons or not overlays anyway.
    let elements = i_slint_backend_testing::ElementQuery::from_root(ui)
        .match_predicate(|e| is_button(e) || overlay_name(e).is_some())
        .find_all();
    match topmost(&elements) {
        Some(overlay) => {
            let covered = spot(&overlay);
            let mut reachable: Vec<ElementHandle> = overlay
                .query_descendants()
                .match_accessible_role(AccessibleRole::Button)
                .find_all();
            reachable.extend(
                elements
                    .into_iter()
                    .filter(|e| is_button(e) && !overlaps(spot(e), covered)),
            );
            reachable
        }
        None => elements.into_iter().filter(is_button).collect(),
    }
}

fn is_button(e: &ElementHandle) -> bool {
    e.accessible_role() == Some(AccessibleRole::Button)
}

/// Whether two drawn rectangles share any area.
fn overlaps(a: Spot, b: Spot) -> bool {
    let (ax, ay, aw, ah) = a;
    let (bx, by, bw, bh) = b;
    ax < bx + bw && bx < ax + aw && ay < by + bh && by < ay + ah
}

/// The buttons that turn the pages of the lists in reach, forward (`next`)
/// or back, whatever their words (下一页, 看下面几项, 看下一份 …): the last
/// and the first button of each page bar.
fn pager_buttons<C: ComponentHandle>(ui: &C, next: bool) -> Vec<ElementHandle> {
    let reachable: Vec<Spot> = reachable_buttons(ui).iter().map(spot).collect();
    ElementHandle::find_by_element_type_name(ui, "PageBar")
        .filter_map(|bar| {
            let buttons = bar
                .query_descendants()
                .match_accessible_role(AccessibleRole::Button)
                .find_all();
            if next {
                buttons.last().cloned()
            } else {
                buttons.first().cloned()
            }
        })
        .filter(|b| reachable.contains(&spot(b)))
        .collect()
}

/// The reachable buttons labelled `label`, or its English translation.
/// [`NEXT_PAGE`] and [`PREVIOUS_PAGE`] find a page bar's buttons, whatever
/// words that bar uses.
pub fn find<C: ComponentHandle>(ui: &C, label: &str) -> Vec<ElementHandle> {
    if label == NEXT_PAGE || label == PREVIOUS_PAGE {
        return pager_buttons(ui, label == NEXT_PAGE);
    }
    let mut found = labelled(reachable_buttons(ui), label);
    // The root of a component shows up once per level of the tree.
    let mut seen = Vec::new();
    found.retain(|b| {
        let at = spot(b);
        let new = !seen.contains(&at);
        seen.push(at);
        new
    });
    // In English the page bar's 下一页 and the screen's 下一步 are both
    // "Next": a page is turned only in the page bar, a step taken only
    // outside it.
    let translated = found
        .iter()
        .any(|b| b.accessible_label().is_some_and(|l| l != label));
    if !translated {
        return found;
    }
    let bars: Vec<Spot> = ElementHandle::find_by_element_type_name(ui, "PageBar")
        .flat_map(|bar| bar.query_descendants().find_all())
        .map(|e| spot(&e))
        .collect();
    found
        .into_iter()
        .filter(|b| !bars.contains(&spot(b)))
        .collect()
}

/// Where an element is drawn: tells elements apart (handles have no identity).
type Spot = (i64, i64, i64, i64);

fn spot(e: &ElementHandle) -> Spot {
    let (p, s) = (e.absolute_position(), e.size());
    let quarter = |v: f32| (v * 4.0).round() as i64;
    (
        quarter(p.x),
        quarter(p.y),
        quarter(s.width),
        quarter(s.height),
    )
}

fn labelled(buttons: Vec<ElementHandle>, label: &str) -> Vec<ElementHandle> {
    let names = names_of(label);
    buttons
        .into_iter()
        .filter(|b| {
            b.accessible_label()
                .is_some_and(|l| names.iter().any(|n| *n == l.as_str()))
        })
        .collect()
}

/// A label as written, then what the English catalogue makes of it.
fn names_of(label: &str) -> Vec<&str> {
    let mut names = vec![label];
    if let Some(english) = english().get(label) {
        names.extend(english.iter().map(String::as_str));
    }
    names
}

/// Whether a button labelled `label` is within reach and not greyed out.
pub fn can_press<C: ComponentHandle>(ui: &C, label: &str) -> bool {
    find(ui, label)
        .iter()
        .any(|b| b.accessible_enabled() != Some(false))
}

/// Press the button labelled `label` (the first, in tree order, of those
/// within reach).
pub fn press<C: ComponentHandle>(ui: &C, label: &str) -> Result<()> {
    let found = find(ui, label);
    press_first(ui, found, label)
}

fn press_first<C: ComponentHandle>(ui: &C, found: Vec<ElementHandle>, label: &str) -> Result<()> {
    let Some(button) = found.first() else {
        bail!(
            "no button {label:?} within reach; there are {:?}",
            reachable_labels(ui)
        );
    };
    // A greyed-out button can be pressed too; it does nothing.
    button.invoke_accessible_default_action();
    Ok(())
}

/// The labels of every button within reach, for error messages.
pub fn reachable_labels<C: ComponentHandle>(ui: &C) -> Vec<String> {
    reachable_buttons(ui)
        .iter()
        .filter_map(|b| b.accessible_label().map(|l| l.to_string()))
        .collect()
}

/// Press the button `label` inside the group labelled `group` (one material
/// card among several with the same buttons).
pub fn press_in<C: ComponentHandle>(ui: &C, group: &str, label: &str) -> Result<()> {
    // Groups live on screens, never on an overlay.
    if let Some(overlay) = top_overlay(ui) {
        bail!("{group:?} is covered by {:?}", overlay.type_name());
    }
    let card = ElementHandle::find_by_accessible_label(ui, group)
        .find(|e| e.accessible_role() == Some(AccessibleRole::Groupbox))
        .with_context(|| format!("no {group:?} on the screen"))?;
    let inside = card
        .query_descendants()
        .match_accessible_role(AccessibleRole::Button)
        .find_all();
    press_first(ui, labelled(inside, label), &format!("{group} › {label}"))
}

/// Press one key per character: digits and letters on the on-screen keypad
/// or keyboard (their labels are the characters themselves).
pub fn type_keys<C: ComponentHandle>(ui: &C, keys: &str) -> Result<()> {
    for key in keys.chars() {
        press(ui, &key.to_string()).with_context(|| format!("typing {keys:?}"))?;
    }
    Ok(())
}

/// Press `turn` until `found` holds; fails once the button greys out.
pub fn turn_pages_until<C: ComponentHandle>(
    ui: &C,
    turn: &str,
    mut found: impl FnMut() -> bool,
) -> Result<bool> {
    for _ in 0..MAX_PAGES {
        if found() {
            return Ok(true);
        }
        if !can_press(ui, turn) {
            return Ok(false);
        }
        press(ui, turn)?;
    }
    Ok(found())
}

/// Back to the first page (nothing to do when there is one page).
pub fn first_page<C: ComponentHandle>(ui: &C) -> Result<()> {
    turn_pages_until(ui, PREVIOUS_PAGE, || false).map(|_| ())
}

/// Turn the pages (from the first) until `found` holds.
pub fn page_until<C: ComponentHandle>(
    ui: &C,
    what: &str,
    found: impl FnMut() -> bool,
) -> Result<()> {
    first_page(ui)?;
    if turn_pages_until(ui, NEXT_PAGE, found)? {
        Ok(())
    } else {
        bail!("{what} is on none of the pages")
    }
}

// --- the signature pad --------------------------------------------------------

/// A finger's stroke across the pad, in pad coordinates: a signature-like wave.
pub fn sample_signature() -> Vec<(f32, f32)> {
    (0..40)
        .map(|i| {
            let x = 60.0 + i as f32 * 14.0;
            let y = 150.0 + ((i as f32) * 0.7).sin() * 40.0;
            (x, y)
        })
        .collect()
}

/// Draw one stroke on the pad with the "finger": pointer down at the first
/// point, moved through the rest, up at the last (points in pad coordinates,
/// kept inside the sheet).
pub fn stroke<C: ComponentHandle>(ui: &C, points: &[(f32, f32)]) -> Result<()> {
    let sheet = ElementHandle::find_by_accessible_label(ui, SIGNATURE_PAD)
        .next()
        .context("no signature pad on the screen")?;
    if let Some(overlay) = top_overlay(ui) {
        bail!("the signature pad is covered by {:?}", overlay.type_name());
    }
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return Ok(());
    };
    let origin = sheet.absolute_position();
    let size = sheet.size();
    let at = |&(x, y): &(f32, f32)| {
        LogicalPosition::new(
            origin.x + x.clamp(1.0, (size.width - 1.0).max(1.0)),
            origin.y + y.clamp(1.0, (size.height - 1.0).max(1.0)),
        )
    };
    let window = ui.window();
    let button = PointerEventButton::Left;
    window.dispatch_event(WindowEvent::PointerMoved {
        position: at(first),
    });
    window.dispatch_event(WindowEvent::PointerPressed {
        position: at(first),
        button,
    });
    for point in &points[1..] {
        window.dispatch_event(WindowEvent::PointerMoved {
            position: at(point),
        });
    }
    window.dispatch_event(WindowEvent::PointerReleased {
        position: at(last),
        button,
    });
    Ok(())
}

/// Sign on the pad with the sample signature.
pub fn sign<C: ComponentHandle>(ui: &C) -> Result<()> {
    stroke(ui, &sample_signature())
}

// --- the kiosk's own screens ------------------------------------------------------

/// The label of the choice with `value`.
fn choice_label(choices: &ModelRc<ChoiceRow>, value: &str) -> Option<String> {
    choices
        .iter()
        .find(|c| c.value == value)
        .map(|c| c.label.to_string())
}

/// On the 找服务 screen: the tile of category `code` (`bundles` for 一件事).
pub fn open_category(ui: &AppWindow, code: &str) -> Result<()> {
    let kiosk = ui.global::<Kiosk>();
    let name = || {
        kiosk
            .get_categories()
            .iter()
            .find(|c| c.code == code)
            .map(|c| c.name.to_string())
    };
    page_until(ui, &format!("category {code}"), || name().is_some())?;
    press(ui, &name().unwrap_or_default())
}

/// In a list of services: the row of service `code` (`bundle:ID` for 一件事).
pub fn open_service(ui: &AppWindow, code: &str) -> Result<()> {
    let kiosk = ui.global::<Kiosk>();
    let name = || {
        kiosk
            .get_services()
            .iter()
            .chain(kiosk.get_search_results().iter())
            .find(|s| s.code == code)
            .map(|s| s.name.to_string())
    };
    page_until(ui, &format!("service {code}"), || name().is_some())?;
    press(ui, &name().unwrap_or_default())
}

/// From the start screen to the guide of `service` in `category`.
pub fn find_service(ui: &AppWindow, category: &str, service: &str) -> Result<()> {
    press(ui, "找服务")?;
    open_category(ui, category)?;
    open_service(ui, service)
}

/// From the start screen to the first step of applying for `service`.
pub fn apply_for(ui: &AppWindow, category: &str, service: &str) -> Result<()> {
    find_service(ui, category, service)?;
    press(ui, "我要办理")
}

/// 搜索 from the start screen, typed on the letter keyboard.
pub fn search(ui: &AppWindow, letters: &str) -> Result<()> {
    press(ui, "搜索")?;
    type_keys(ui, letters)
}

/// Open the keyboard of form field `key`, turning the form's pages to it.
pub fn edit_field(ui: &AppWindow, key: &str) -> Result<()> {
    let journey = ui.global::<Journey>();
    let label = || {
        journey
            .get_fields()
            .iter()
            .find(|f| f.key == key)
            .map(|f| f.label.to_string())
    };
    page_until(ui, &format!("field {key}"), || label().is_some())?;
    press(ui, &label().unwrap_or_default())?;
    if !journey.get_editing() {
        bail!("the keyboard for {key} did not open");
    }
    Ok(())
}

/// What a sample resident types into a field on the number pad.
fn sample_digits(key: &str, id_number: bool) -> String {
    if key.contains("phone") {
        "13812345678".into()
    } else if key.contains("date") {
        "20200101".into()
    } else if id_number {
        bianmin_drivers::idcard::sim::with_check("11010119850101123")
    } else {
        // Account and certificate numbers: long enough for any of them.
        "6222021234567890".into()
    }
}

/// In the open field editor: enter a plausible value the way a resident
/// would and press 完成 (or choose, for a choice).
pub fn enter_sample_value(ui: &AppWindow) -> Result<()> {
    let journey = ui.global::<Journey>();
    let key = journey.get_editing_field().key.to_string();
    match journey.get_editor() {
        Editor::Keypad => {
            type_keys(ui, &sample_digits(&key, journey.get_keypad_x()))?;
            press(ui, "完成")?;
        }
        Editor::Choice => {
            let first = journey
                .get_editing_choices()
                .row_data(0)
                .with_context(|| format!("{key} offers no choice"))?;
            press(ui, &first.label)?;
        }
        _ if key.contains("cert_no") => {
            // A certificate number: a letter, then digits from the digit row.
            type_keys(ui, "k123456789")?;
            press(ui, "完成")?;
        }
        _ => {
            // Pinyin initials "zg", then the first candidate (中国), until
            // 完成 takes it (a field may want a few characters).
            for _ in 0..4 {
                type_keys(ui, "zg")?;
                let first = journey
                    .get_candidates()
                    .row_data(0)
                    .context("no candidate for zg")?;
                press(ui, &first)?;
                press(ui, "完成")?;
                if !journey.get_editing() {
                    break;
                }
            }
        }
    }
    if journey.get_editing() {
        bail!(
            "{key} not accepted: {}",
            journey.get_editing_error().as_str()
        );
    }
    Ok(())
}

/// Fill every required field still empty, page by page, through its keyboard.
pub fn fill_required(ui: &AppWindow) -> Result<()> {
    let journey = ui.global::<Journey>();
    first_page(ui)?;
    for _ in 0..MAX_PAGES {
        let empty: Vec<String> = journey
            .get_fields()
            .iter()
            .filter(|f| f.required && f.value.is_empty())
            .map(|f| f.key.to_string())
            .collect();
        for key in empty {
            edit_field(ui, &key)?;
            enter_sample_value(ui)?;
        }
        if !can_press(ui, NEXT_PAGE) {
            return first_page(ui);
        }
        press(ui, NEXT_PAGE)?;
    }
    bail!("the form has more than {MAX_PAGES} pages")
}

/// The label of way `way` on material row `row`, if the row offers it.
pub fn material_option(row: &MaterialRow, way: MaterialWay) -> Option<String> {
    row.options
        .iter()
        .find(|o| o.way == way)
        .map(|o| o.label.to_string())
}

/// Press option `label` on the card of material `name`, turning the pages
/// to it.
pub fn choose_material(ui: &AppWindow, name: &str, label: &str) -> Result<()> {
    let journey = ui.global::<Journey>();
    page_until(ui, &format!("material {name}"), || {
        journey.get_materials().iter().any(|m| m.name == name)
    })?;
    press_in(ui, name, label)
}

/// Page through the materials and press, on each card, the option whose
/// value `choose` names (none: leave the card as it is).
pub fn choose_materials(
    ui: &AppWindow,
    mut choose: impl FnMut(&MaterialRow) -> Option<MaterialWay>,
) -> Result<()> {
    let journey = ui.global::<Journey>();
    first_page(ui)?;
    for _ in 0..MAX_PAGES {
        for row in journey.get_materials().iter() {
            let Some(way) = choose(&row) else { continue };
            let label = material_option(&row, way)
                .with_context(|| format!("{} cannot be {way:?}", row.name))?;
            press_in(ui, &row.name, &label)?;
        }
        if !can_press(ui, NEXT_PAGE) {
            return Ok(());
        }
        press(ui, NEXT_PAGE)?;
    }
    bail!("more than {MAX_PAGES} pages of materials")
}

/// Say "brought it along" for every material.
pub fn provide_all_materials(ui: &AppWindow) -> Result<()> {
    choose_materials(ui, |row| {
        let provided = row
            .options
            .iter()
            .any(|o| o.way == MaterialWay::Provided && o.selected);
        (!provided).then_some(MaterialWay::Provided)
    })
}

/// Press the choice with `value` among `choices` (answers, levels, ways of
/// delivery), by the label the screen shows for it.
pub fn choose(ui: &AppWindow, choices: &ModelRc<ChoiceRow>, value: &str) -> Result<()> {
    let label = choice_label(choices, value).with_context(|| format!("no choice {value:?}"))?;
    press(ui, &label)
}

// --- the English catalogue ------------------------------------------------------------

/// msgid → every msgstr it has in the English catalogue (one per context).
fn english() -> &'static HashMap<String, Vec<String>> {
    static CATALOGUE: OnceLock<HashMap<String, Vec<String>>> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        parse_po(include_str!(
            "../../../ui/translations/en/LC_MESSAGES/bianmin-ui.po"
        ))
    })
}

fn parse_po(text: &str) -> HashMap<String, Vec<String>> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    let mut msgid: Option<String> = None;
    let mut current: Option<(bool, String)> = None; // (is msgstr, text)
    let mut finish =
        |current: &mut Option<(bool, String)>, msgid: &mut Option<String>| match current.take() {
            Some((false, id)) => *msgid = Some(id),
            Some((true, text)) => {
                if let Some(id) = msgid.take() {
                    if !id.is_empty() && !text.is_empty() {
                        let entry = map.entry(id).or_default();
                        if !entry.contains(&text) {
                            entry.push(text);
                        }
                    }
                }
            }
            None => {}
        };
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("msgid ") {
            finish(&mut current, &mut msgid);
            current = Some((false, unquote(rest)));
        } else if let Some(rest) = line.strip_prefix("msgstr ") {
            finish(&mut current, &mut msgid);
            current = Some((true, unquote(rest)));
        } else if line.starts_with('"') {
            if let Some((_, text)) = current.as_mut() {
                text.push_str(&unquote(line));
            }
        } else {
            finish(&mut current, &mut msgid);
        }
    }
    finish(&mut current, &mut msgid);
    map
}

fn unquote(quoted: &str) -> String {
    let inner = quoted
        .trim()
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(quoted);
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_english_catalogue_names_the_buttons() {
        assert!(english()["我要办理"].contains(&"Apply now".to_string()));
        assert!(english()["完成"].contains(&"Done".to_string()));
        assert!(names_of("下一页").len() >= 2);
    }

    #[test]
    fn po_strings_are_unescaped_and_joined() {
        let map = parse_po(
            "msgctxt \"A\"\nmsgid \"甲\"\nmsgstr \"\"\n\"say \\\"a\\\"\"\n\nmsgid \"乙\"\nmsgstr \"b\"\n",
        );
        assert_eq!(map["甲"], vec!["say \"a\"".to_string()]);
        assert_eq!(map["乙"], vec!["b".to_string()]);
    }
}
