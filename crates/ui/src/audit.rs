//! Measuring the screens as a resident meets them: every interactive element
//! labelled, every touch target and text big enough, every text readable
//! against what is drawn behind it. Sizes come from Slint's element tree,
//! colours from the software-rendered pixels, so nothing is taken on trust
//! from the Theme's numbers.

use crate::headless::all_screens;
use crate::{AppWindow, KioskController};
use bianmin_config::{Config, Language};
use bianmin_core::session::EndReason;
use i_slint_backend_testing::{ElementHandle, TestingBackend, TestingBackendOptions};
use slint::{ComponentHandle, Rgba8Pixel, SharedPixelBuffer};
use std::collections::HashMap;

/// Millimetres per dp (1/160 inch), the unit the elder-friendly
/// specification's "60×60 dp (about 9.5 mm)" and "18 pt / 30 pt" use.
pub const MM_PER_DP: f32 = 25.4 / 160.0;

/// Line height of the bundled WenQuanYi Micro Hei per pixel of font size
/// (measured: 24 px text lays out 29 px high, 36 px text 43 px).
/// Every Text stretches its lines by `Theme.line-height-factor` (1.1) for
/// the ≥ 1.3× line spacing of the elder-friendly spec: 1.19 × 1.1.
pub const LINE_HEIGHT_PER_FONT_PX: f32 = 1.19 * 1.1;

/// Controls on every screen that the "six primary choices" rule leaves out.
const PERSISTENT_CONTROLS: [&str; 8] = [
    "返回",
    "首页",
    "朗读",
    "大字模式",
    "标准模式",
    "呼叫工作人员",
    "English",
    "中文",
];

/// Buttons that turn pages are navigation, not choices (a form, a summary
/// and the materials page with words of their own, far from 下一步).
const PAGING_CONTROLS: [&str; 8] = [
    "上一页",
    "下一页",
    "向上翻",
    "向下翻",
    "看上面几项",
    "看下面几项",
    "看上一份",
    "看下一份",
];

/// `accessible-description` of keyboard keys (ui/input.slint), which are
/// not choices either.
const KEY: &str = "key";
/// `accessible-description` of a pinyin candidate: a key whose label is the
/// resident's own Chinese input rather than the kiosk's words.
const CANDIDATE: &str = "candidate";

/// What a theme must meet, in logical pixels of the layout.
#[derive(Debug, Clone, Copy)]
pub struct Minimums {
    /// Smallest side of a touch target.
    pub target: f32,
    /// Smallest font size of any text.
    pub font: f32,
    /// Smallest font size of a button's label (the "main functions").
    pub button_font: f32,
    pub contrast: f64,
    /// Most choices on one screen, persistent controls and keys not counted.
    pub max_choices: Option<usize>,
}

impl Minimums {
    /// Pixel minimums for a panel with `px_per_mm`: the larger of the
    /// physical rule and the pixel floor the issue sets at 1280×800.
    pub fn for_theme(large: bool, px_per_mm: f32) -> Minimums {
        let dp = |n: f32| n * MM_PER_DP * px_per_mm;
        if large {
            Minimums {
                target: dp(60.0).max(60.0),
                font: dp(18.0).max(24.0),
                button_font: dp(30.0).max(30.0),
                contrast: 7.0,
                max_choices: Some(6),
            }
        } else {
            Minimums {
                target: dp(44.0).max(44.0),
                font: dp(16.0).max(16.0),
                button_font: dp(18.0).max(18.0),
                contrast: 4.5,
                max_choices: None,
            }
        }
    }
}

/// One text element as measured.
#[derive(Debug, Clone)]
pub struct TextMeasure {
    pub label: String,
    pub height: f32,
    pub contrast: Option<f64>,
    /// Drawn on a pinyin candidate key: the resident's input.
    pub candidate: bool,
}

/// One interactive element as measured.
#[derive(Debug, Clone)]
pub struct TargetMeasure {
    pub label: String,
    pub width: f32,
    pub height: f32,
    /// A primary choice (not a persistent control, page turner or key).
    pub is_choice: bool,
    /// A pinyin candidate key: the resident's input.
    pub candidate: bool,
    /// The chosen one of several options (`accessible-checked`): the
    /// audit checks it is told by more than colour.
    pub selected: bool,
}

#[derive(Debug, Clone)]
pub struct ScreenAudit {
    pub screen: &'static str,
    pub large: bool,
    pub texts: Vec<TextMeasure>,
    pub targets: Vec<TargetMeasure>,
    pub problems: Vec<String>,
}

impl ScreenAudit {
    /// The smallest text on the screen: the finest print a resident must read.
    pub fn smallest_text_height(&self) -> f32 {
        self.texts
            .iter()
            .map(|t| t.height)
            .min_by(f32::total_cmp)
            .unwrap_or(0.0)
    }

    /// Primary choices a resident must weigh on this screen.
    pub fn choices(&self) -> usize {
        self.targets.iter().filter(|t| t.is_choice).count()
    }

    pub fn text(&self, label: &str) -> Option<&TextMeasure> {
        self.texts.iter().find(|t| t.label == label)
    }
}

/// Install the testing backend with the software renderer on this thread.
/// Must run before any other Slint component is created on the thread.
pub fn install_backend() {
    let backend = TestingBackend::new(TestingBackendOptions {
        mock_time: true,
        threading: false,
        renderer_name: Some("software".into()),
    });
    // Another test on this thread may have installed it already; that is fine.
    let _ = slint::platform::set_platform(Box::new(backend));
}

/// Audit every screen in the given themes.
pub fn audit_all(
    themes: &[bool],
    size: (u32, u32),
    px_per_mm: f32,
) -> anyhow::Result<Vec<ScreenAudit>> {
    let mut audits = Vec::new();
    visit_screens(Language::Zh, themes, size, |ui, snapshot, name, large| {
        audits.push(audit_screen(ui, snapshot, name, large, px_per_mm));
    })?;
    Ok(audits)
}

/// The words every screen shows in `language` (each visible text and button
/// label), screen by screen: what a resident reads. Pinyin candidates are
/// left out: they are the resident's own Chinese input, whatever the
/// screen's language.
pub fn words_on_screens(
    language: Language,
    size: (u32, u32),
) -> anyhow::Result<Vec<(&'static str, Vec<String>)>> {
    let mut words = Vec::new();
    visit_screens(language, &[false], size, |ui, snapshot, name, large| {
        let audit = audit_screen(ui, snapshot, name, large, 5.6);
        let seen = audit
            .texts
            .iter()
            .filter(|t| !t.candidate)
            .map(|t| t.label.clone());
        let pressed = audit
            .targets
            .iter()
            .filter(|t| !t.candidate)
            .map(|t| t.label.clone());
        words.push((name, seen.chain(pressed).collect()));
    })?;
    Ok(words)
}

/// Reach every screen in each theme the way a resident would, and hand it
/// to `visit` with a fresh snapshot of its pixels.
fn visit_screens(
    language: Language,
    themes: &[bool],
    size: (u32, u32),
    mut visit: impl FnMut(&AppWindow, &SharedPixelBuffer<Rgba8Pixel>, &'static str, bool),
) -> anyhow::Result<()> {
    install_backend();
    let ui = AppWindow::new()?;
    ui.window()
        .set_size(slint::PhysicalSize::new(size.0, size.1));
    let mut config = Config::default();
    config.ui.language = language;
    let controller = KioskController::new(&ui, config, bianmin_core::package::Package::demo());
    controller.set_hooks(std::rc::Rc::new(crate::headless::SampleResident));
    ui.show()?;
    for &large in themes {
        for screen in all_screens() {
            controller.end_session(EndReason::Finished);
            crate::admin::close_preview(&ui);
            controller.set_large(large);
            (screen.reach)(&ui, &controller)
                .map_err(|err| anyhow::anyhow!("reaching {}: {err:#}", screen.name))?;
            i_slint_backend_testing::mock_elapsed_time(std::time::Duration::from_millis(50));
            let snapshot = ui.window().take_snapshot()?;
            visit(&ui, &snapshot, screen.name, large);
        }
    }
    controller.end_session(EndReason::Finished);
    Ok(())
}

/// Audit whatever `ui` shows now, from its element tree and `snapshot`.
pub fn audit_screen<C: ComponentHandle>(
    ui: &C,
    snapshot: &SharedPixelBuffer<Rgba8Pixel>,
    screen: &'static str,
    large: bool,
    px_per_mm: f32,
) -> ScreenAudit {
    let mut minimums = Minimums::for_theme(large, px_per_mm);
    // The six-choice rule is for residents; technicians' admin screens keep
    // every other minimum of the theme.
    if ElementHandle::find_by_element_type_name(ui, "AdminOverlay")
        .next()
        .is_some()
    {
        minimums.max_choices = None;
    }
    let scale = ui.window().scale_factor();
    let window = ui.window().size().to_logical(scale);
    // With an overlay up, only the overlay can be used; what lies under the
    // scrim is deliberately dimmed.
    let root = crate::press::top_overlay(ui);
    let elements: Vec<ElementHandle> = match &root {
        Some(overlay) => overlay.query_descendants().find_all(),
        // Every element once: `from_root` already matches all descendants.
        None => i_slint_backend_testing::ElementQuery::from_root(ui).find_all(),
    };

    let mut audit = ScreenAudit {
        screen,
        large,
        texts: Vec::new(),
        targets: Vec::new(),
        problems: Vec::new(),
    };
    // An element that is the root of a component shows up once per level of
    // the component tree; count each drawn thing once.
    let mut seen = std::collections::HashSet::new();
    // Where candidate keys and texts are, to tell a candidate's own label
    // (drawn by a text inside it) from the screen's words.
    let mut candidate_keys: Vec<[f32; 4]> = Vec::new();
    let mut text_boxes: Vec<[f32; 4]> = Vec::new();
    let mut buttons: Vec<ButtonLook> = Vec::new();
    for element in elements {
        if !element.is_valid() || element.computed_opacity() <= 0.01 {
            continue;
        }
        let size = element.size();
        let position = element.absolute_position();
        let key = (
            element.accessible_label().map(|l| l.to_string()),
            element.accessible_role().map(|r| format!("{r:?}")),
            (position.x * 4.0) as i64,
            (position.y * 4.0) as i64,
            (size.width * 4.0) as i64,
            (size.height * 4.0) as i64,
        );
        if !seen.insert(key) {
            continue;
        }
        if size.width <= 0.0 || size.height <= 0.0 {
            continue;
        }
        let role = element.accessible_role();
        let label = element
            .accessible_label()
            .map(|l| l.to_string())
            .unwrap_or_default();
        let type_name = element
            .type_name()
            .map(|t| t.to_string())
            .unwrap_or_default();
        if role == Some(i_slint_backend_testing::AccessibleRole::Button) {
            if label.trim().is_empty() {
                audit
                    .problems
                    .push(format!("a {type_name} button has no accessible label"));
            }
            if position.x < -0.5
                || position.y < -0.5
                || position.x + size.width > window.width + 0.5
                || position.y + size.height > window.height + 0.5
            {
                audit.problems.push(format!(
                    "button {label:?} reaches outside the screen ({:.0},{:.0} {:.0}×{:.0})",
                    position.x, position.y, size.width, size.height
                ));
            }
            if size.width < minimums.target || size.height < minimums.target {
                audit.problems.push(format!(
                    "button {label:?} is {:.0}×{:.0} px, under {:.0}×{:.0}",
                    size.width, size.height, minimums.target, minimums.target
                ));
            }
            let description = element.accessible_description();
            let candidate = description.as_deref() == Some(CANDIDATE);
            let key = candidate || description.as_deref() == Some(KEY);
            if candidate {
                candidate_keys.push([position.x, position.y, size.width, size.height]);
            }
            let checked = element.accessible_checked() == Some(true)
                || element.accessible_item_selected() == Some(true);
            let option = checked
                || element.accessible_checkable() == Some(true)
                || element.accessible_item_selectable() == Some(true);
            buttons.push(ButtonLook {
                label: label.clone(),
                rect: [
                    position.x * scale,
                    position.y * scale,
                    size.width * scale,
                    size.height * scale,
                ],
                option,
                checked,
            });
            audit.targets.push(TargetMeasure {
                label: label.clone(),
                width: size.width,
                height: size.height,
                is_choice: !PERSISTENT_CONTROLS.contains(&label.as_str())
                    && !PAGING_CONTROLS.contains(&label.as_str())
                    && !key,
                candidate,
                selected: checked,
            });
        } else if role == Some(i_slint_backend_testing::AccessibleRole::Text)
            && !label.trim().is_empty()
        {
            // By role, not type name: a component built on Text (`Prose`, a
            // screen's own line style) is text a resident reads all the same.
            let contrast = measure_contrast(
                snapshot,
                (position.x * scale, position.y * scale),
                (size.width * scale, size.height * scale),
            );
            let font = size.height / LINE_HEIGHT_PER_FONT_PX;
            if font + 0.5 < minimums.font {
                audit.problems.push(format!(
                    "text {label:?} is about {font:.0} px, under {:.0} px",
                    minimums.font
                ));
            }
            if let Some(ratio) = contrast {
                if ratio < minimums.contrast {
                    audit.problems.push(format!(
                        "text {label:?} has contrast {ratio:.2}:1, under {:.1}:1",
                        minimums.contrast
                    ));
                }
            }
            text_boxes.push([position.x, position.y, size.width, size.height]);
            audit.texts.push(TextMeasure {
                label,
                height: size.height,
                contrast,
                candidate: false,
            });
        }
    }
    let inside = |inner: &[f32; 4], outer: &[f32; 4]| {
        inner[0] >= outer[0] - 0.5
            && inner[1] >= outer[1] - 0.5
            && inner[0] + inner[2] <= outer[0] + outer[2] + 0.5
            && inner[1] + inner[3] <= outer[1] + outer[3] + 0.5
    };
    for (text, bounds) in audit.texts.iter_mut().zip(&text_boxes) {
        text.candidate = candidate_keys.iter().any(|key| inside(bounds, key));
    }
    // A button's label is drawn by a text with the same words inside it.
    for target in &audit.targets {
        let inside = audit.texts.iter().find(|t| t.label == target.label);
        if let Some(text) = inside {
            let font = text.height / LINE_HEIGHT_PER_FONT_PX;
            if font + 0.5 < minimums.button_font {
                audit.problems.push(format!(
                    "button {:?} has text of about {font:.0} px, under {:.0} px",
                    target.label, minimums.button_font
                ));
            }
        }
    }
    let texts: Vec<(&str, [f32; 4])> = audit
        .texts
        .iter()
        .zip(&text_boxes)
        .map(|(t, b)| (t.label.as_str(), b.map(|v| v * scale)))
        .collect();
    audit
        .problems
        .extend(selection_problems(snapshot, &buttons, &texts));
    if ElementHandle::find_by_element_type_name(ui, "AdminOverlay")
        .next()
        .is_none()
    {
        audit.problems.extend(cut_texts(ui));
        audit.problems.extend(broken_words(ui));
    }
    if let Some(max) = minimums.max_choices {
        let choices = audit.choices();
        if choices > max {
            audit.problems.push(format!(
                "{choices} primary choices on one screen, more than {max}"
            ));
        }
    }
    audit
}

/// A button as drawn, for telling a selected option from the others.
struct ButtonLook {
    label: String,
    /// x, y, width, height in physical pixels of the snapshot.
    rect: [f32; 4],
    /// One option among others (`accessible-checkable`/`-item-selectable`).
    option: bool,
    /// The chosen option (`accessible-checked`/`-item-selected`).
    checked: bool,
}

/// Words that say "this one is chosen" without colour: a tick, 已选.
const SELECTED_MARKS: [&str; 4] = ["✓", "✔", "已选", "Selected"];

/// A chosen option must differ from the others in more than colour (WCAG
/// 1.4.1; an elder with weak colour vision must still see it): a tick or
/// 已选 drawn inside it, and a border at least 2 px thicker than the
/// unchosen options' (at least 3 px). Options say what they are through
/// `accessible-checkable`/`-checked` (KioskButton's `option`/`selected`), as
/// a screen reader needs anyway.
fn selection_problems(
    snapshot: &SharedPixelBuffer<Rgba8Pixel>,
    buttons: &[ButtonLook],
    texts: &[(&str, [f32; 4])],
) -> Vec<String> {
    let mut problems = Vec::new();
    let inside = |inner: &[f32; 4], outer: &[f32; 4]| {
        inner[0] >= outer[0] - 1.0
            && inner[1] >= outer[1] - 1.0
            && inner[0] + inner[2] <= outer[0] + outer[2] + 1.0
            && inner[1] + inner[3] <= outer[1] + outer[3] + 1.0
    };
    let plain_border = buttons
        .iter()
        .filter(|b| b.option && !b.checked)
        .map(|b| border_thickness(snapshot, &b.rect))
        .max();
    for button in buttons.iter().filter(|b| b.checked) {
        let ticked = texts.iter().any(|(label, bounds)| {
            inside(bounds, &button.rect) && SELECTED_MARKS.iter().any(|m| label.contains(m))
        });
        let border = border_thickness(snapshot, &button.rect);
        let thick = border >= 3 && plain_border.is_none_or(|plain| border >= plain + 2);
        if !ticked || !thick {
            problems.push(format!(
                "selected option {:?} differs only in colour: {}{}",
                button.label,
                if ticked {
                    ""
                } else {
                    "no ✓/已选 drawn inside it; "
                },
                if thick {
                    String::new()
                } else {
                    format!(
                        "its border is {border} px against {} px of the others",
                        plain_border.unwrap_or(0)
                    )
                }
            ));
        }
    }
    problems
}

fn colour_distance(a: [u8; 3], b: [u8; 3]) -> u32 {
    a.iter().zip(b).map(|(x, y)| u32::from(x.abs_diff(y))).sum()
}

/// The most common colour inside `rect`, a few pixels in from its edges.
fn fill(snapshot: &SharedPixelBuffer<Rgba8Pixel>, rect: &[f32; 4]) -> Option<[u8; 3]> {
    let (width, height) = (snapshot.width() as i64, snapshot.height() as i64);
    let x0 = (rect[0].ceil() as i64 + 8).clamp(0, width);
    let y0 = (rect[1].ceil() as i64 + 8).clamp(0, height);
    let x1 = ((rect[0] + rect[2]).floor() as i64 - 8).clamp(0, width);
    let y1 = ((rect[1] + rect[3]).floor() as i64 - 8).clamp(0, height);
    let pixels = snapshot.as_slice();
    let mut histogram: HashMap<[u8; 3], usize> = HashMap::new();
    for y in y0..y1 {
        for x in x0..x1 {
            let p = pixels[(y * width + x) as usize];
            *histogram.entry([p.r, p.g, p.b]).or_default() += 1;
        }
    }
    histogram
        .into_iter()
        .max_by_key(|(_, count)| *count)
        .map(|(colour, _)| colour)
}

/// How many pixels the border of `rect` is thick, measured on its left
/// edge half-way down: pixels unlike the fill before the fill begins.
fn border_thickness(snapshot: &SharedPixelBuffer<Rgba8Pixel>, rect: &[f32; 4]) -> u32 {
    let Some(inner) = fill(snapshot, rect) else {
        return 0;
    };
    let (width, height) = (snapshot.width() as i64, snapshot.height() as i64);
    let y = ((rect[1] + rect[3] / 2.0) as i64).clamp(0, height - 1);
    let x0 = rect[0].round() as i64;
    let pixels = snapshot.as_slice();
    let mut thickness = 0;
    for x in x0..(x0 + 24).min(width) {
        if x < 0 {
            continue;
        }
        let p = pixels[(y * width + x) as usize];
        if colour_distance([p.r, p.g, p.b], inner) <= 24 {
            break;
        }
        thickness += 1;
    }
    thickness
}

/// Texts on screen that do not get the room their words need: cut with
/// "…" (elided) or clipped. A resident never sees half a title.
pub fn cut_texts<C: ComponentHandle>(ui: &C) -> Vec<String> {
    use i_slint_core::item_tree::ItemRc;
    use i_slint_core::items::{ComplexText, Item, TextOverflow, TextWrap};
    use i_slint_core::layout::Orientation;
    let inner = i_slint_core::window::WindowInner::from_pub(ui.window());
    let Some(tree) = inner.try_component() else {
        return Vec::new();
    };
    let adapter = inner.window_adapter();
    let mut problems = Vec::new();
    let mut stack = vec![ItemRc::new_root(tree)];
    while let Some(item) = stack.pop() {
        if let Some(child) = item.first_child() {
            stack.push(child);
        }
        if let Some(sibling) = item.next_sibling() {
            stack.push(sibling);
        }
        let Some(text) = item.downcast::<ComplexText>() else {
            continue;
        };
        let text = text.as_pin_ref();
        let words = text.text();
        if words.trim().is_empty() || !item.is_visible() {
            continue;
        }
        let geometry = item.geometry();
        let (width, height) = (geometry.width(), geometry.height());
        if width <= 0.0 || height <= 0.0 {
            continue;
        }
        let cut = match text.wrap() {
            TextWrap::NoWrap => {
                let needed = text
                    .layout_info(Orientation::Horizontal, -1.0, &adapter, &item)
                    .preferred;
                needed > width + 1.0
            }
            _ => {
                let needed = text
                    .layout_info(Orientation::Vertical, width, &adapter, &item)
                    .preferred;
                needed > height + 1.0
            }
        };
        if cut {
            let how = match text.overflow() {
                TextOverflow::Elide => "cut with …",
                _ => "clipped",
            };
            problems.push(format!(
                "text {:?} is {how}: {width:.0}×{height:.0} px is too small for it",
                words.as_str()
            ));
        }
    }
    problems
}

/// Chinese words broken across two lines ("提交申/请"): a wrapped text may
/// break between words or after punctuation, never inside a word. Where
/// each line breaks is measured with the kiosk's own text layout (the
/// renderer's parley layout of the same item, font and width); what is a
/// word is jieba's dictionary ([`bianmin_core::ime::ImeIndex::word_ends`]).
pub fn broken_words<C: ComponentHandle>(ui: &C) -> Vec<String> {
    use i_slint_core::item_tree::ItemRc;
    use i_slint_core::items::{ComplexText, TextWrap};
    let inner = i_slint_core::window::WindowInner::from_pub(ui.window());
    let Some(tree) = inner.try_component() else {
        return Vec::new();
    };
    let adapter = inner.window_adapter();
    let mut problems = Vec::new();
    let mut stack = vec![ItemRc::new_root(tree)];
    while let Some(item) = stack.pop() {
        if let Some(child) = item.first_child() {
            stack.push(child);
        }
        if let Some(sibling) = item.next_sibling() {
            stack.push(sibling);
        }
        let Some(text) = item.downcast::<ComplexText>() else {
            continue;
        };
        let text = text.as_pin_ref();
        let words = text.text();
        if text.wrap() == TextWrap::NoWrap
            || !item.is_visible()
            || !words.chars().any(crate::wrap::is_han)
        {
            continue;
        }
        let width = item.geometry().width();
        if width <= 0.0 {
            continue;
        }
        let measure = |part: &str| {
            let probe = Probe {
                item: text,
                text: part.into(),
            };
            let probe: std::pin::Pin<&Probe> = std::pin::Pin::new(&probe);
            i_slint_core::textlayout::sharedparley::text_size(
                adapter.renderer(),
                probe,
                &item,
                Some(i_slint_core::lengths::LogicalLength::new(width)),
                TextWrap::WordWrap,
                None,
            )
            .map(|size| size.height)
            .unwrap_or(0.0)
        };
        for paragraph in words.split('\n') {
            for at in line_breaks(paragraph, &measure) {
                if let Some(word) = word_across(paragraph, at) {
                    let shown = |part: &str| part.replace(crate::wrap::WORD_JOINER, "");
                    problems.push(format!(
                        "text {:?} breaks the word {word:?} across two lines ({}/{})",
                        shown(&words),
                        shown(&paragraph[..at]),
                        shown(&paragraph[at..])
                    ));
                }
            }
        }
    }
    problems
}

/// Where a wrapped paragraph's lines start (byte offsets, the first line's
/// 0 left out), given `height`, the height the item's layout gives a part of
/// it. Lines are filled greedily: each takes the longest run of characters
/// that still lays out on one line, then gives back what follows the last
/// place a line may end (UAX #14, as the layout's own breaker).
fn line_breaks(paragraph: &str, height: &dyn Fn(&str) -> f32) -> Vec<usize> {
    let Some(first) = paragraph.chars().next() else {
        return Vec::new();
    };
    let one_line = height(first.encode_utf8(&mut [0; 4]));
    if one_line <= 0.0 || height(paragraph) < one_line * 1.5 {
        return Vec::new();
    }
    let allowed: Vec<usize> = unicode_linebreak::linebreaks(paragraph)
        .map(|(at, _)| at)
        .collect();
    let ends: Vec<usize> = paragraph
        .char_indices()
        .map(|(i, c)| i + c.len_utf8())
        .collect();
    let mut breaks = Vec::new();
    let mut start = 0;
    while start < paragraph.len() {
        // The longest run from `start` on one line: heights only grow as
        // characters are added, so search for the last end that fits.
        let first_end = ends.partition_point(|&end| end <= start);
        let (mut low, mut high) = (first_end, ends.len() - 1);
        while low < high {
            let mid = (low + high).div_ceil(2);
            if height(&paragraph[start..ends[mid]]) < one_line * 1.5 {
                low = mid;
            } else {
                high = mid - 1;
            }
        }
        let fits = ends[low];
        if fits >= paragraph.len() {
            break;
        }
        // The line ends at the last allowed break within what fits; with
        // none, the layout breaks the overlong run where it must.
        let at = allowed
            .iter()
            .copied()
            .filter(|&at| at > start && at <= fits)
            .max()
            .unwrap_or(fits);
        breaks.push(at);
        start = at;
    }
    breaks
}

/// The word a line break at byte `at` of `paragraph` falls inside, if any:
/// a break between two Han characters that is not where a word ends. Word
/// joiners ([`crate::wrap::keep_words`]) are not part of any word.
fn word_across(paragraph: &str, at: usize) -> Option<String> {
    use crate::wrap::{is_han, WORD_JOINER};
    let before = paragraph[..at].chars().next_back()?;
    let after = paragraph[at..].chars().next()?;
    if !is_han(before) || !is_han(after) {
        return None;
    }
    let shown = paragraph.replace(WORD_JOINER, "");
    let at = paragraph[..at].replace(WORD_JOINER, "").len();
    let ends = bianmin_core::ime::ImeIndex::global().word_ends(&shown);
    if ends.contains(&at) {
        return None;
    }
    let start = ends.iter().copied().filter(|&e| e < at).max().unwrap_or(0);
    let end = ends.iter().copied().find(|&e| e > at)?;
    Some(shown[start..end].to_string())
}

/// An item's text replaced by part of it, laid out with everything else of
/// the item (font, size, weight, spacing): how the audit asks the layout
/// where that item's lines break.
struct Probe<'a> {
    item: std::pin::Pin<&'a i_slint_core::items::ComplexText>,
    text: slint::SharedString,
}

impl i_slint_core::item_rendering::HasFont for Probe<'_> {
    fn font_request(
        self: std::pin::Pin<&Self>,
        item: &i_slint_core::items::ItemRc,
    ) -> i_slint_core::graphics::FontRequest {
        i_slint_core::item_rendering::HasFont::font_request(self.item, item)
    }
}

impl i_slint_core::item_rendering::RenderString for Probe<'_> {
    fn text(self: std::pin::Pin<&Self>) -> i_slint_core::item_rendering::PlainOrStyledText {
        i_slint_core::item_rendering::PlainOrStyledText::Plain(self.text.clone())
    }
    fn stroke(
        self: std::pin::Pin<&Self>,
    ) -> (
        i_slint_core::Brush,
        i_slint_core::lengths::LogicalLength,
        i_slint_core::items::TextStrokeStyle,
    ) {
        i_slint_core::item_rendering::RenderString::stroke(self.item)
    }
}

/// WCAG relative luminance of an sRGB pixel.
pub fn luminance(pixel: Rgba8Pixel) -> f64 {
    let channel = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.03928 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(pixel.r) + 0.7152 * channel(pixel.g) + 0.0722 * channel(pixel.b)
}

pub fn contrast_ratio(a: f64, b: f64) -> f64 {
    let (light, dark) = if a > b { (a, b) } else { (b, a) };
    (light + 0.05) / (dark + 0.05)
}

/// Contrast between a text's ink and its background inside its rectangle:
/// the background is the most common colour, the ink the colour that stands
/// furthest from it (ignoring the few most extreme pixels, which may be
/// anti-aliasing artefacts or a neighbour's border). None when nothing is
/// drawn there.
fn measure_contrast(
    snapshot: &SharedPixelBuffer<Rgba8Pixel>,
    origin: (f32, f32),
    size: (f32, f32),
) -> Option<f64> {
    let width = snapshot.width() as i64;
    let height = snapshot.height() as i64;
    let x0 = (origin.0.floor() as i64).clamp(0, width);
    let y0 = (origin.1.floor() as i64).clamp(0, height);
    let x1 = ((origin.0 + size.0).ceil() as i64).clamp(0, width);
    let y1 = ((origin.1 + size.1).ceil() as i64).clamp(0, height);
    let pixels = snapshot.as_slice();
    let mut histogram: HashMap<[u8; 3], usize> = HashMap::new();
    for y in y0..y1 {
        for x in x0..x1 {
            let p = pixels[(y * width + x) as usize];
            *histogram.entry([p.r, p.g, p.b]).or_default() += 1;
        }
    }
    let (&background, _) = histogram.iter().max_by_key(|(_, count)| **count)?;
    let background_luminance = luminance(Rgba8Pixel::new(
        background[0],
        background[1],
        background[2],
        255,
    ));
    let mut ratios: Vec<f64> = histogram
        .iter()
        .filter(|(color, _)| **color != background)
        .flat_map(|(color, count)| {
            let l = luminance(Rgba8Pixel::new(color[0], color[1], color[2], 255));
            std::iter::repeat_n(contrast_ratio(l, background_luminance), *count)
        })
        .collect();
    if ratios.len() < 4 {
        return None;
    }
    ratios.sort_by(|a, b| b.total_cmp(a));
    Some(ratios[3.min(ratios.len() - 1)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contrast_of_black_on_white_is_21() {
        let white = luminance(Rgba8Pixel::new(255, 255, 255, 255));
        let black = luminance(Rgba8Pixel::new(0, 0, 0, 255));
        assert!((contrast_ratio(white, black) - 21.0).abs() < 0.01);
        assert!((contrast_ratio(white, white) - 1.0).abs() < 1e-9);
    }
}
