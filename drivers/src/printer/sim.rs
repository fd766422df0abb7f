//! The virtual printer: an ESC/POS interpreter (sans-IO) that turns the byte
//! stream into receipts, a renderer that draws each receipt as a PNG with a
//! real CJK font, and a pty simulator that answers DLE EOT like a printer.

use super::receipt::{Paper, TextEncoding};
use crate::pty::{Outbox, SimDevice, SimHandle};
use ab_glyph::{Font, FontVec, PxScale, ScaleFont};
use image::GrayImage;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Raster images larger than this (bytes of one GS v 0 band) are treated as
/// garbage: a corrupted header must not make the printer wait for megabytes.
const MAX_RASTER: usize = 1 << 20;
/// Longest receipt rendered, in dots (about 2.5 m of paper): a hostile
/// stream of feeds and narrow raster bands must not exhaust memory.
const MAX_ROWS: usize = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Align {
    #[default]
    Left,
    Center,
    Right,
}

/// One run of text with its style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub text: String,
    pub bold: bool,
    /// Width and height multipliers (1–8).
    pub size: (u8, u8),
}

/// What ends up on paper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Element {
    Line {
        runs: Vec<Run>,
        align: Align,
    },
    Qr {
        data: Vec<u8>,
        module: u8,
        align: Align,
    },
    Raster {
        width_bytes: usize,
        height: usize,
        bits: Vec<u8>,
        align: Align,
    },
    /// Blank paper, in dots.
    Feed(u32),
}

/// A receipt between two cuts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VirtualReceipt {
    pub elements: Vec<Element>,
    pub partial_cut: bool,
}

impl VirtualReceipt {
    /// The text of the receipt, one line per printed line.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for e in &self.elements {
            if let Element::Line { runs, .. } = e {
                for r in runs {
                    out.push_str(&r.text);
                }
                out.push('\n');
            }
        }
        out
    }

    /// Payloads of native QR codes (lossy UTF-8).
    pub fn qr_payloads(&self) -> Vec<String> {
        self.elements
            .iter()
            .filter_map(|e| match e {
                Element::Qr { data, .. } => Some(String::from_utf8_lossy(data).into_owned()),
                _ => None,
            })
            .collect()
    }
}

/// Something the interpreter reports besides paper output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// DLE EOT n: the host wants a real-time status byte.
    StatusRequest(u8),
    /// A cut: the receipt is complete.
    Cut(VirtualReceipt),
}

/// The ESC/POS interpreter. Feed bytes in any chunking; take events.
#[derive(Debug, Clone)]
pub struct Interpreter {
    pending: Vec<u8>,
    encoding: TextEncoding,
    align: Align,
    bold: bool,
    size: (u8, u8),
    line: Vec<Run>,
    line_bytes: Vec<u8>,
    qr_module: u8,
    qr_data: Vec<u8>,
    current: VirtualReceipt,
    /// Commands the interpreter did not know (skipped with a guess at their length).
    pub unknown: u64,
}

enum Step {
    Need,
    Consumed(usize),
}

impl Interpreter {
    pub fn new(encoding: TextEncoding) -> Interpreter {
        Interpreter {
            pending: Vec::new(),
            encoding,
            align: Align::Left,
            bold: false,
            size: (1, 1),
            line: Vec::new(),
            line_bytes: Vec::new(),
            qr_module: 3,
            qr_data: Vec::new(),
            current: VirtualReceipt::default(),
            unknown: 0,
        }
    }

    /// Elements printed since the last cut.
    pub fn current(&self) -> &VirtualReceipt {
        &self.current
    }

    fn reset_style(&mut self) {
        self.align = Align::Left;
        self.bold = false;
        self.size = (1, 1);
    }

    /// Close the text run in progress (style is about to change).
    fn close_run(&mut self) {
        if self.line_bytes.is_empty() {
            return;
        }
        let (text, _, _) = self.encoding.encoding().decode(&self.line_bytes);
        self.line.push(Run {
            text: text.into_owned(),
            bold: self.bold,
            size: self.size,
        });
        self.line_bytes.clear();
    }

    /// Print the line buffer; an empty line still feeds one line.
    fn print_line(&mut self) {
        self.close_run();
        if self.line.is_empty() {
            self.current
                .elements
                .push(Element::Feed(24 * u32::from(self.size.1)));
        } else {
            let runs = std::mem::take(&mut self.line);
            self.current.elements.push(Element::Line {
                runs,
                align: self.align,
            });
        }
    }

    fn flush_if_text(&mut self) {
        if !self.line_bytes.is_empty() || !self.line.is_empty() {
            self.print_line();
        }
    }

    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Event> {
        let mut buf = std::mem::take(&mut self.pending);
        buf.extend_from_slice(bytes);
        let mut events = Vec::new();
        let mut at = 0;
        while at < buf.len() {
            match self.step(&buf[at..], &mut events) {
                Step::Consumed(n) => at += n.max(1),
                Step::Need => break,
            }
        }
        buf.drain(..at.min(buf.len()));
        self.pending = buf;
        events
    }

    fn step(&mut self, b: &[u8], events: &mut Vec<Event>) -> Step {
        let need = |n: usize| b.len() < n;
        match b[0] {
            0x0A => {
                self.print_line();
                Step::Consumed(1)
            }
            0x0D | 0x00 | 0x18 => Step::Consumed(1),
            0x10 => {
                if need(2) {
                    return Step::Need;
                }
                match b[1] {
                    0x04 => {
                        if need(3) {
                            return Step::Need;
                        }
                        events.push(Event::StatusRequest(b[2]));
                        Step::Consumed(3)
                    }
                    0x14 => {
                        if need(5) {
                            Step::Need
                        } else {
                            Step::Consumed(5)
                        }
                    }
                    _ => {
                        self.unknown += 1;
                        Step::Consumed(2)
                    }
                }
            }
            0x1B => self.esc(b),
            0x1C => {
                if need(2) {
                    return Step::Need;
                }
                match b[1] {
                    // FS & / FS . : GB18030 bytes are taken either way.
                    0x26 | 0x2E => Step::Consumed(2),
                    0x21 | 0x2D | 0x57 => {
                        if need(3) {
                            Step::Need
                        } else {
                            Step::Consumed(3)
                        }
                    }
                    _ => {
                        self.unknown += 1;
                        Step::Consumed(2)
                    }
                }
            }
            0x1D => self.gs(b, events),
            c if c >= 0x20 => {
                // Text: take every byte up to the next control byte.
                let n = b.iter().take_while(|&&c| c >= 0x20).count();
                self.line_bytes.extend_from_slice(&b[..n]);
                // A printer prints a full line buffer by itself; so do we,
                // which also bounds memory on a stream without line feeds.
                if self.line_bytes.len() > 1024 {
                    self.print_line();
                }
                Step::Consumed(n)
            }
            _ => Step::Consumed(1),
        }
    }

    fn esc(&mut self, b: &[u8]) -> Step {
        if b.len() < 2 {
            return Step::Need;
        }
        let arg = b.get(2).copied();
        let with_arg = |f: &mut dyn FnMut(u8)| match arg {
            Some(a) => {
                f(a);
                Step::Consumed(3)
            }
            None => Step::Need,
        };
        match b[1] {
            0x40 => {
                self.flush_if_text();
                self.reset_style();
                Step::Consumed(2)
            }
            b'a' => with_arg(&mut |a| {
                self.close_run();
                self.align = match a {
                    1 | b'1' => Align::Center,
                    2 | b'2' => Align::Right,
                    _ => Align::Left,
                };
            }),
            b'E' => with_arg(&mut |a| {
                self.close_run();
                self.bold = a & 1 == 1;
            }),
            b'!' => with_arg(&mut |a| {
                self.close_run();
                self.bold = a & 0x08 != 0;
                self.size = (1 + (a >> 5 & 1), 1 + (a >> 4 & 1));
            }),
            b'd' => with_arg(&mut |n| {
                self.print_line();
                if n > 1 {
                    self.current
                        .elements
                        .push(Element::Feed(24 * u32::from(n - 1)));
                }
            }),
            b'J' => with_arg(&mut |n| {
                self.flush_if_text();
                self.current.elements.push(Element::Feed(u32::from(n)));
            }),
            b'2' => Step::Consumed(2),
            b'-' | b'G' | b'M' | b't' | b'R' | b'3' | b'V' | b'{' | b' ' | b'c' | b'r' | b'U' => {
                if arg.is_some() {
                    Step::Consumed(3)
                } else {
                    Step::Need
                }
            }
            b'p' => {
                if b.len() < 5 {
                    Step::Need
                } else {
                    Step::Consumed(5)
                }
            }
            _ => {
                self.unknown += 1;
                Step::Consumed(2)
            }
        }
    }

    fn gs(&mut self, b: &[u8], events: &mut Vec<Event>) -> Step {
        if b.len() < 2 {
            return Step::Need;
        }
        match b[1] {
            b'!' => match b.get(2) {
                Some(&n) => {
                    self.close_run();
                    self.size = (1 + (n >> 4 & 7), 1 + (n & 7));
                    Step::Consumed(3)
                }
                None => Step::Need,
            },
            b'V' => {
                let Some(&m) = b.get(2) else {
                    return Step::Need;
                };
                let len = if m == 65 || m == 66 { 4 } else { 3 };
                if b.len() < len {
                    return Step::Need;
                }
                self.flush_if_text();
                let mut receipt = std::mem::take(&mut self.current);
                receipt.partial_cut = m == 1 || m == 49 || m == 66;
                events.push(Event::Cut(receipt));
                Step::Consumed(len)
            }
            b'(' => {
                if b.len() < 5 {
                    return Step::Need;
                }
                let len = usize::from(u16::from_le_bytes([b[3], b[4]]));
                if b.len() < 5 + len {
                    return Step::Need;
                }
                if b[2] == b'k' {
                    self.qr(&b[5..5 + len]);
                }
                Step::Consumed(5 + len)
            }
            b'v' => {
                if b.len() < 8 {
                    return Step::Need;
                }
                if b[2] != b'0' {
                    self.unknown += 1;
                    return Step::Consumed(2);
                }
                let width_bytes = usize::from(u16::from_le_bytes([b[4], b[5]]));
                let height = usize::from(u16::from_le_bytes([b[6], b[7]]));
                let size = width_bytes * height;
                if size > MAX_RASTER {
                    self.unknown += 1;
                    return Step::Consumed(2);
                }
                if b.len() < 8 + size {
                    return Step::Need;
                }
                self.flush_if_text();
                self.current.elements.push(Element::Raster {
                    width_bytes,
                    height,
                    bits: b[8..8 + size].to_vec(),
                    align: self.align,
                });
                Step::Consumed(8 + size)
            }
            b'B' | b'b' | b'H' | b'f' | b'h' | b'w' | b'L' | b'W' | b'a' | b'r' => {
                let len = match b[1] {
                    b'L' | b'W' => 4,
                    _ => 3,
                };
                if b.len() < len {
                    Step::Need
                } else {
                    Step::Consumed(len)
                }
            }
            _ => {
                let _ = events;
                self.unknown += 1;
                Step::Consumed(2)
            }
        }
    }

    /// GS ( k with cn = 49 (QR); other symbologies are skipped.
    fn qr(&mut self, p: &[u8]) {
        let [cn, func, rest @ ..] = p else { return };
        if *cn != 0x31 {
            return;
        }
        match func {
            0x43 => {
                if let Some(&n) = rest.first() {
                    self.qr_module = n.clamp(1, 16);
                }
            }
            0x50 => {
                self.qr_data = rest.get(1..).unwrap_or_default().to_vec();
            }
            0x51 => {
                self.flush_if_text();
                self.current.elements.push(Element::Qr {
                    data: self.qr_data.clone(),
                    module: self.qr_module,
                    align: self.align,
                });
            }
            _ => {}
        }
    }
}

fn font() -> Option<&'static FontVec> {
    static FONT: OnceLock<Option<FontVec>> = OnceLock::new();
    FONT.get_or_init(|| {
        let candidates = [
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../assets/fonts/wqy-microhei.ttc"
            )),
            PathBuf::from("/usr/share/bianmin/fonts/wqy-microhei.ttc"),
            PathBuf::from("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
        ];
        candidates.iter().find_map(|p| {
            let data = std::fs::read(p).ok()?;
            FontVec::try_from_vec_and_index(data, 0).ok()
        })
    })
    .as_ref()
}

/// Draw a receipt the way a thermal printer would lay it out.
pub fn render(receipt: &VirtualReceipt, paper: Paper) -> GrayImage {
    let width = paper.dots();
    let margin = 16u32;
    let mut rows: Vec<Vec<u8>> = Vec::new();
    let white = || vec![255u8; width as usize];
    for _ in 0..margin {
        rows.push(white());
    }
    for element in &receipt.elements {
        if rows.len() > MAX_ROWS {
            break;
        }
        match element {
            Element::Feed(d) => (0..(*d as usize).min(MAX_ROWS)).for_each(|_| rows.push(white())),
            Element::Line { runs, align } => draw_text(&mut rows, width, runs, *align),
            Element::Qr {
                data,
                module,
                align,
            } => {
                let Ok(code) =
                    qrcode::QrCode::with_error_correction_level(data, qrcode::EcLevel::M)
                else {
                    continue;
                };
                let n = code.width();
                let colors = code.to_colors();
                let m = usize::from(*module);
                let size = n * m;
                let left = offset(width as usize, size, *align);
                for y in 0..size {
                    let mut row = white();
                    for x in 0..size {
                        if colors[(y / m) * n + x / m] == qrcode::Color::Dark
                            && left + x < row.len()
                        {
                            row[left + x] = 0;
                        }
                    }
                    rows.push(row);
                }
            }
            Element::Raster {
                width_bytes,
                height,
                bits,
                align,
            } => {
                let dots = width_bytes * 8;
                let left = offset(width as usize, dots, *align);
                for y in 0..(*height).min(MAX_ROWS) {
                    let mut row = white();
                    for x in 0..dots {
                        let byte = bits.get(y * width_bytes + x / 8).copied().unwrap_or(0);
                        if byte & (0x80 >> (x % 8)) != 0 && left + x < row.len() {
                            row[left + x] = 0;
                        }
                    }
                    rows.push(row);
                }
            }
        }
    }
    rows.truncate(MAX_ROWS);
    for _ in 0..margin * 2 {
        rows.push(white());
    }
    let height = rows.len() as u32;
    let flat: Vec<u8> = rows.into_iter().flatten().collect();
    GrayImage::from_raw(width, height, flat).unwrap_or_else(|| GrayImage::new(width, 1))
}

fn offset(width: usize, content: usize, align: Align) -> usize {
    let spare = width.saturating_sub(content);
    match align {
        Align::Left => 0,
        Align::Center => spare / 2,
        Align::Right => spare,
    }
}

/// Lay out runs on lines of the paper width (wrapping like the printer),
/// 24-dot cells scaled by the size multipliers.
fn draw_text(rows: &mut Vec<Vec<u8>>, width: u32, runs: &[Run], align: Align) {
    struct Glyph {
        c: char,
        x: f32,
        w: f32,
        scale: PxScale,
        bold: bool,
    }
    let mut lines: Vec<(Vec<Glyph>, f32, f32)> = vec![(Vec::new(), 0.0, 24.0)];
    for run in runs {
        let (sw, sh) = (f32::from(run.size.0.max(1)), f32::from(run.size.1.max(1)));
        let scale = PxScale {
            x: 24.0 * sw,
            y: 24.0 * sh,
        };
        for c in run.text.chars() {
            // Fixed cells like a printer's ROM font: 12 dots half width, 24 full.
            let w = if (c as u32) < 0x1100 {
                12.0 * sw
            } else {
                24.0 * sw
            };
            let needs_break = lines
                .last()
                .is_some_and(|l| l.1 + w > width as f32 && !l.0.is_empty());
            if needs_break {
                lines.push((Vec::new(), 0.0, 24.0));
            }
            if let Some(line) = lines.last_mut() {
                line.0.push(Glyph {
                    c,
                    x: line.1,
                    w,
                    scale,
                    bold: run.bold,
                });
                line.1 += w;
                line.2 = line.2.max(24.0 * sh);
            }
        }
    }
    for (glyphs, line_width, line_height) in lines {
        if rows.len() > MAX_ROWS {
            break;
        }
        let h = line_height.ceil() as usize + 6;
        let mut band = vec![vec![255u8; width as usize]; h];
        let left = offset(width as usize, line_width.ceil() as usize, align) as f32;
        for g in &glyphs {
            match font() {
                Some(font) => {
                    let scaled = font.as_scaled(g.scale);
                    let id = font.glyph_id(g.c);
                    let advance = scaled.h_advance(id).max(1.0);
                    // Squeeze proportional glyphs into their fixed cell.
                    let fit = (g.w / advance).min(1.0);
                    let scale = PxScale {
                        x: g.scale.x * fit,
                        y: g.scale.y,
                    };
                    let baseline = line_height - line_height * 0.18 + 3.0;
                    let glyph =
                        id.with_scale_and_position(scale, ab_glyph::point(left + g.x, baseline));
                    if let Some(outline) = font.outline_glyph(glyph) {
                        let bounds = outline.px_bounds();
                        outline.draw(|x, y, coverage| {
                            let px = bounds.min.x as i32 + x as i32;
                            let py = bounds.min.y as i32 + y as i32;
                            let threshold = if g.bold { 0.25 } else { 0.45 };
                            if coverage > threshold {
                                for dx in 0..=(g.bold as i32) {
                                    put(&mut band, px + dx, py);
                                }
                            }
                        });
                    }
                }
                None => {
                    // No font installed: a box per character still shows the layout.
                    let x0 = (left + g.x) as i32 + 2;
                    let x1 = (left + g.x + g.w) as i32 - 2;
                    for x in x0..x1 {
                        put(&mut band, x, 4);
                        put(&mut band, x, line_height as i32);
                    }
                }
            }
        }
        rows.extend(band);
    }
}

fn put(band: &mut [Vec<u8>], x: i32, y: i32) {
    if x < 0 || y < 0 {
        return;
    }
    if let Some(px) = band.get_mut(y as usize).and_then(|r| r.get_mut(x as usize)) {
        *px = 0;
    }
}

/// Faults the virtual printer can be set to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrinterFaults {
    pub paper_near_end: bool,
    pub paper_end: bool,
    pub cover_open: bool,
    /// Offline for another reason (mechanical error).
    pub offline: bool,
    /// Answer no status requests (a dead or non-ESC/POS device).
    pub mute: bool,
    /// The paper runs out part-way down the next receipt that has at least
    /// this many elements (lines, codes, feeds): that receipt is lost.
    pub paper_runs_out_after: Option<u32>,
}

/// The virtual printer device.
pub struct VirtualPrinter {
    pub paper: Paper,
    pub faults: PrinterFaults,
    interpreter: Interpreter,
    /// Completed receipts (cut while the printer could print).
    pub receipts: Vec<VirtualReceipt>,
    /// PNG files written, when `out_dir` is set.
    pub pngs: Vec<PathBuf>,
    pub out_dir: Option<PathBuf>,
    /// Receipts that arrived while the printer could not print.
    pub lost: u32,
}

impl VirtualPrinter {
    pub fn new(paper: Paper, encoding: TextEncoding) -> VirtualPrinter {
        VirtualPrinter {
            paper,
            faults: PrinterFaults::default(),
            interpreter: Interpreter::new(encoding),
            receipts: Vec::new(),
            pngs: Vec::new(),
            out_dir: None,
            lost: 0,
        }
    }

    /// Write a PNG of every receipt to `dir`.
    pub fn with_output(mut self, dir: &Path) -> VirtualPrinter {
        self.out_dir = Some(dir.to_path_buf());
        self
    }

    pub fn start(self, baud: Option<u32>) -> std::io::Result<SimHandle<VirtualPrinter>> {
        SimHandle::start(self, "printer", baud)
    }

    fn can_print(&self) -> bool {
        let f = &self.faults;
        !(f.paper_end || f.cover_open || f.offline)
    }

    fn status_byte(&self, n: u8) -> u8 {
        let f = &self.faults;
        let base = 0x12u8;
        match n {
            1 => base | if self.can_print() { 0 } else { 0x08 },
            2 => {
                base | if f.cover_open { 0x04 } else { 0 }
                    | if f.paper_end { 0x20 } else { 0 }
                    | if f.offline { 0x40 } else { 0 }
            }
            3 => base,
            4 => {
                base | if f.paper_near_end || f.paper_end {
                    0x0C
                } else {
                    0
                } | if f.paper_end { 0x60 } else { 0 }
            }
            _ => base,
        }
    }
}

impl SimDevice for VirtualPrinter {
    fn on_input(&mut self, bytes: &[u8], out: &mut Outbox) {
        for event in self.interpreter.feed(bytes) {
            match event {
                Event::StatusRequest(n) => {
                    if !self.faults.mute {
                        out.send(vec![self.status_byte(n)]);
                    }
                }
                Event::Cut(receipt) => {
                    if let Some(n) = self.faults.paper_runs_out_after {
                        if receipt.elements.len() as u32 >= n {
                            // The roll ended part-way down this receipt.
                            self.faults.paper_runs_out_after = None;
                            self.faults.paper_end = true;
                        }
                    }
                    if !self.can_print() {
                        self.lost += 1;
                        continue;
                    }
                    if let Some(dir) = &self.out_dir {
                        let path = dir.join(format!("receipt-{:04}.png", self.receipts.len() + 1));
                        if render(&receipt, self.paper).save(&path).is_ok() {
                            self.pngs.push(path);
                        }
                    }
                    self.receipts.push(receipt);
                }
            }
        }
    }

    fn on_unplug(&mut self) {
        self.interpreter = Interpreter::new(self.interpreter.encoding);
    }
}

/// Shared handle type for the demo.
pub type PrinterSim = SimHandle<VirtualPrinter>;

/// Render and save one receipt (for tools and tests).
pub fn save_png(
    receipt: &VirtualReceipt,
    paper: Paper,
    path: &Path,
) -> Result<(), image::ImageError> {
    render(receipt, paper).save(path)
}
