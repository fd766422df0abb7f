//! The 受理回执 as ESC/POS bytes, for 58 mm (384 dots) and 80 mm (576 dots).
//!
//! The `escpos` crate supplies the ordinary commands (init, justify, bold,
//! size, text through an encoding_rs encoder, native QR with Model 2 passed
//! explicitly, cut); line feeds, FS & and the GS v 0 raster fallback are raw
//! bytes because the crate's versions differ from what the printers here
//! expect (`writeln` sends ESC d 1, `bit_image` prefixes a CAN, `partial_cut`
//! sends a feed-and-full-cut).

use escpos::driver::Driver;
use escpos::printer::Printer;
use escpos::utils::{
    Encoder, JustifyMode, Protocol, QRCodeCorrectionLevel, QRCodeModel, QRCodeOption,
};
use std::cell::RefCell;
use std::rc::Rc;

/// Paper width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paper {
    Mm58,
    Mm80,
}

impl Paper {
    pub fn from_mm(mm: u32) -> Paper {
        if mm == 58 {
            Paper::Mm58
        } else {
            Paper::Mm80
        }
    }

    pub fn dots(self) -> u32 {
        match self {
            Paper::Mm58 => 384,
            Paper::Mm80 => 576,
        }
    }

    /// Columns of font A (12 dots a half-width column).
    pub fn columns(self) -> usize {
        (self.dots() / 12) as usize
    }

    fn qr_module(self) -> u8 {
        match self {
            Paper::Mm58 => 5,
            Paper::Mm80 => 7,
        }
    }
}

/// Text encoding the printer expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TextEncoding {
    #[default]
    Gb18030,
    Utf8,
}

impl TextEncoding {
    pub fn encoding(self) -> &'static encoding_rs::Encoding {
        match self {
            TextEncoding::Gb18030 => encoding_rs::GB18030,
            TextEncoding::Utf8 => encoding_rs::UTF_8,
        }
    }
}

/// Per-printer settings (from `[devices.printer]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub paper: Paper,
    pub encoding: TextEncoding,
    /// Send FS & (Chinese character mode) first.
    pub fs_and: bool,
    /// Native GS ( k QR; false = GS v 0 raster made here.
    pub native_qr: bool,
    /// Partial cut rather than full cut (leaves a tab the resident tears).
    pub partial_cut: bool,
}

impl Default for Layout {
    fn default() -> Self {
        Layout {
            paper: Paper::Mm80,
            encoding: TextEncoding::Gb18030,
            fs_and: false,
            native_qr: true,
            partial_cut: false,
        }
    }
}

/// What a receipt says. Holds no personal data by design: the receipt
/// number and the QR are enough to look the application up.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Receipt {
    pub title: String,
    pub station: String,
    /// Already formatted (e.g. "2026-11-25 10:32").
    pub time: String,
    pub receipt_number: String,
    pub service_name: String,
    pub materials: Vec<String>,
    /// What the resident does next ("到本服务站领取结果…"), printed under its
    /// own heading so it is not lost in the small print; empty = none.
    pub next_step: String,
    pub note: String,
    /// Payload of the QR code (usually the receipt number); empty = no QR.
    pub qr: String,
}

/// The receipt could not be turned into bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    #[error("QR payload too long for a QR code ({0} bytes)")]
    QrTooLong(usize),
    #[error("ESC/POS encoding failed: {0}")]
    Escpos(String),
}

/// Collects what the escpos `Printer` would send.
#[derive(Clone, Default)]
struct Capture(Rc<RefCell<Vec<u8>>>);

impl Driver for Capture {
    fn name(&self) -> String {
        "capture".into()
    }
    fn write(&self, data: &[u8]) -> escpos::errors::Result<()> {
        self.0.borrow_mut().extend_from_slice(data);
        Ok(())
    }
    fn read(&self, _buf: &mut [u8]) -> escpos::errors::Result<usize> {
        Ok(0)
    }
    fn flush(&self) -> escpos::errors::Result<()> {
        Ok(())
    }
}

/// Display width in font-A columns: CJK and other wide characters take two.
pub fn display_width(text: &str) -> usize {
    text.chars().map(char_columns).sum()
}

fn char_columns(c: char) -> usize {
    if (c as u32) < 0x1100 {
        1
    } else {
        2
    }
}

/// Break `text` into lines of at most `columns`, continuing lines indented by `indent` columns.
pub fn wrap(text: &str, columns: usize, indent: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut width = 0;
    for c in text.chars() {
        let w = char_columns(c);
        if width + w > columns && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
            line.push_str(&" ".repeat(indent));
            width = indent;
        }
        line.push(c);
        width += w;
    }
    if !line.trim().is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// `text` without control characters: what reaches the printer as text
/// must never act as a command (ESC, GS, FS, DLE, CAN, LF and the C1 range
/// all do on an ESC/POS printer). A tab becomes a space; with `keep_lines`
/// a line feed stays (a document's body breaks its own lines), otherwise it
/// becomes a space. Everything printed passes through here: the receipt's
/// fields come from the catalogue and the platform, not from this kiosk.
pub fn printable(text: &str, keep_lines: bool) -> String {
    text.chars()
        .filter_map(|c| match c {
            '\n' if keep_lines => Some('\n'),
            '\t' | '\n' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect()
}

impl Receipt {
    /// Every field through [`printable`] (the QR payload too: it is data in
    /// a length-prefixed command, but the raster fallback and a scanner's
    /// reader should see no control bytes either).
    fn printable(&self) -> Receipt {
        let one = |text: &str| printable(text, false);
        Receipt {
            title: one(&self.title),
            station: one(&self.station),
            time: one(&self.time),
            receipt_number: one(&self.receipt_number),
            service_name: one(&self.service_name),
            materials: self.materials.iter().map(|m| one(m)).collect(),
            next_step: one(&self.next_step),
            note: one(&self.note),
            qr: one(&self.qr),
        }
    }
}

/// Build the complete byte stream of one receipt.
pub fn build(receipt: &Receipt, layout: &Layout) -> Result<Vec<u8>, ReceiptError> {
    let receipt = &receipt.printable();
    let capture = Capture::default();
    let protocol = Protocol::new(Encoder::new(layout.encoding.encoding()).allow_unencodable(true));
    let mut p = Printer::new(capture.clone(), protocol, None);
    let e = |err: escpos::errors::PrinterError| ReceiptError::Escpos(err.to_string());
    let cols = layout.paper.columns();
    const LF: &[u8] = &[0x0A];

    p.init().map_err(e)?;
    if layout.fs_and {
        p.custom(&[0x1C, 0x26]).map_err(e)?;
    }
    p.justify(JustifyMode::CENTER).map_err(e)?;
    p.bold(true).map_err(e)?.size(2, 2).map_err(e)?;
    for line in wrap(&receipt.title, cols / 2, 0) {
        p.write(&line).map_err(e)?.custom(LF).map_err(e)?;
    }
    p.reset_size().map_err(e)?.bold(false).map_err(e)?;
    for line in wrap(&receipt.station, cols, 0) {
        p.write(&line).map_err(e)?.custom(LF).map_err(e)?;
    }
    p.justify(JustifyMode::LEFT).map_err(e)?;
    p.write(&"-".repeat(cols))
        .map_err(e)?
        .custom(LF)
        .map_err(e)?;
    let field = |p: &mut Printer<Capture>, label: &str, value: &str| -> Result<(), ReceiptError> {
        let indent = display_width(label);
        for line in wrap(&format!("{label}{value}"), cols, indent) {
            p.write(&line).map_err(e)?.custom(LF).map_err(e)?;
        }
        Ok(())
    };
    p.bold(true).map_err(e)?;
    // The receipt number is read aloud and typed in: never break it.
    let number = &receipt.receipt_number;
    if display_width("受理编号：") + display_width(number) > cols && display_width(number) <= cols
    {
        p.write("受理编号：").map_err(e)?.custom(LF).map_err(e)?;
        p.write(number).map_err(e)?.custom(LF).map_err(e)?;
    } else {
        field(&mut p, "受理编号：", number)?;
    }
    p.bold(false).map_err(e)?;
    field(&mut p, "办理事项：", &receipt.service_name)?;
    field(&mut p, "受理时间：", &receipt.time)?;
    if !receipt.materials.is_empty() {
        p.write("所需材料：").map_err(e)?.custom(LF).map_err(e)?;
        for (i, m) in receipt.materials.iter().enumerate() {
            let label = format!(" {}. ", i + 1);
            field(&mut p, &label, m)?;
        }
    }
    if !receipt.next_step.is_empty() {
        p.bold(true).map_err(e)?;
        field(&mut p, "下一步：", &receipt.next_step)?;
        p.bold(false).map_err(e)?;
    }
    if !receipt.note.is_empty() {
        field(&mut p, "备注：", &receipt.note)?;
    }
    p.write(&"-".repeat(cols))
        .map_err(e)?
        .custom(LF)
        .map_err(e)?;
    if !receipt.qr.is_empty() {
        p.justify(JustifyMode::CENTER).map_err(e)?;
        if layout.native_qr {
            let option = QRCodeOption::new(
                QRCodeModel::Model2,
                layout.paper.qr_module(),
                QRCodeCorrectionLevel::M,
            );
            p.qrcode_option(&receipt.qr, option).map_err(e)?;
        } else {
            p.custom(&raster_qr(&receipt.qr, layout.paper.qr_module())?)
                .map_err(e)?;
        }
        p.custom(LF).map_err(e)?;
        p.write("扫码查询办理进度")
            .map_err(e)?
            .custom(LF)
            .map_err(e)?;
        p.justify(JustifyMode::LEFT).map_err(e)?;
    }
    p.feeds(4).map_err(e)?;
    // Raw: the crate's cut() sends GS V 'A' 0 and its partial_cut() GS V 'A' 1,
    // which is "feed 1 line then full cut", not a partial cut.
    let cut: &[u8] = if layout.partial_cut {
        &[0x1D, 0x56, 0x01]
    } else {
        &[0x1D, 0x56, 0x00]
    };
    p.custom(cut).map_err(e)?;
    p.print().map_err(e)?;
    drop(p);
    let bytes = capture.0.borrow().clone();
    Ok(bytes)
}

/// A QR code as a GS v 0 raster image (`module` dots a module, no quiet
/// zone: the paper around it is the quiet zone), in bands of ≤ 960 rows.
pub fn raster_qr(data: &str, module: u8) -> Result<Vec<u8>, ReceiptError> {
    let code = qrcode::QrCode::with_error_correction_level(data.as_bytes(), qrcode::EcLevel::M)
        .map_err(|_| ReceiptError::QrTooLong(data.len()))?;
    let n = code.width();
    let colors = code.to_colors();
    let m = usize::from(module.max(1));
    let dots = n * m;
    let width_bytes = dots.div_ceil(8);
    let mut rows: Vec<Vec<u8>> = Vec::with_capacity(dots);
    for y in 0..dots {
        let mut row = vec![0u8; width_bytes];
        for x in 0..dots {
            if colors[(y / m) * n + x / m] == qrcode::Color::Dark {
                row[x / 8] |= 0x80 >> (x % 8);
            }
        }
        rows.push(row);
    }
    let mut out = Vec::new();
    for band in rows.chunks(960) {
        out.extend_from_slice(&[0x1D, 0x76, 0x30, 0x00]);
        out.extend_from_slice(&(width_bytes as u16).to_le_bytes());
        out.extend_from_slice(&(band.len() as u16).to_le_bytes());
        for row in band {
            out.extend_from_slice(row);
        }
    }
    Ok(out)
}

/// A plain-text document from the platform (自助打印: a certificate of
/// insurance, a household extract…), printed on the receipt roll.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Document {
    pub title: String,
    pub station: String,
    /// Already formatted (e.g. "2026-11-25 10:32").
    pub time: String,
    /// Plain text; its line breaks are kept and long lines wrapped.
    pub body: String,
    /// Printed at the foot (the platform's document id) so staff can trace a copy.
    pub reference: String,
}

impl std::fmt::Debug for Document {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A resident's document names them: only its shape is shown.
        write!(
            f,
            "Document({:?}, {} chars)",
            self.title,
            self.body.chars().count()
        )
    }
}

/// Most body lines printed (about a metre of paper); a longer document is
/// cut short with a note, so a runaway file cannot empty the roll.
pub const MAX_DOCUMENT_LINES: usize = 300;

/// Build the byte stream of a plain-text document. Control characters in
/// the text are dropped: bytes from the network must never reach the
/// printer as commands.
pub fn build_document(doc: &Document, layout: &Layout) -> Result<Vec<u8>, ReceiptError> {
    let capture = Capture::default();
    let protocol = Protocol::new(Encoder::new(layout.encoding.encoding()).allow_unencodable(true));
    let mut p = Printer::new(capture.clone(), protocol, None);
    let e = |err: escpos::errors::PrinterError| ReceiptError::Escpos(err.to_string());
    let cols = layout.paper.columns();
    const LF: &[u8] = &[0x0A];
    let clean = |text: &str| printable(text, true);

    p.init().map_err(e)?;
    if layout.fs_and {
        p.custom(&[0x1C, 0x26]).map_err(e)?;
    }
    p.justify(JustifyMode::CENTER).map_err(e)?;
    p.bold(true).map_err(e)?;
    for line in wrap(&clean(&doc.title), cols, 0) {
        p.write(&line).map_err(e)?.custom(LF).map_err(e)?;
    }
    p.bold(false).map_err(e)?;
    p.justify(JustifyMode::LEFT).map_err(e)?;
    p.write(&"-".repeat(cols))
        .map_err(e)?
        .custom(LF)
        .map_err(e)?;
    let body = clean(&doc.body);
    let mut lines = body.lines().flat_map(|line| wrap(line.trim_end(), cols, 0));
    for line in lines.by_ref().take(MAX_DOCUMENT_LINES) {
        p.write(&line).map_err(e)?.custom(LF).map_err(e)?;
    }
    if lines.next().is_some() {
        for line in wrap("……（内容过长，其余部分请到服务窗口打印）", cols, 0)
        {
            p.write(&line).map_err(e)?.custom(LF).map_err(e)?;
        }
    }
    p.write(&"-".repeat(cols))
        .map_err(e)?
        .custom(LF)
        .map_err(e)?;
    for (label, value) in [
        ("打印地点：", &doc.station),
        ("打印时间：", &doc.time),
        ("文件编号：", &doc.reference),
    ] {
        if value.is_empty() {
            continue;
        }
        for line in wrap(
            &format!("{label}{}", printable(value, false)),
            cols,
            display_width(label),
        ) {
            p.write(&line).map_err(e)?.custom(LF).map_err(e)?;
        }
    }
    p.feeds(4).map_err(e)?;
    let cut: &[u8] = if layout.partial_cut {
        &[0x1D, 0x56, 0x01]
    } else {
        &[0x1D, 0x56, 0x00]
    };
    p.custom(cut).map_err(e)?;
    p.print().map_err(e)?;
    drop(p);
    let bytes = capture.0.borrow().clone();
    Ok(bytes)
}

/// A test page for `bianmin device print-test`.
pub fn test_receipt(paper: Paper) -> Receipt {
    Receipt {
        title: "打印测试".into(),
        station: "便民自助终端".into(),
        time: "—".into(),
        receipt_number: "BM1-TEST-00000000-000000-0".into(),
        service_name: format!(
            "{} 毫米纸宽测试页 · GB18030：𠮷 ABC 123",
            match paper {
                Paper::Mm58 => 58,
                Paper::Mm80 => 80,
            }
        ),
        materials: vec![
            "中文、English、数字 0123456789".into(),
            "二维码应能被扫码枪读出".into(),
        ],
        next_step: String::new(),
        note: "看到本页说明打印机、纸张和编码设置正常。".into(),
        qr: "BM1-TEST-00000000-000000-0".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Receipt {
        Receipt {
            title: "便民服务受理回执".into(),
            station: "演示村便民服务站".into(),
            time: "2026-11-25 10:32".into(),
            receipt_number: "BM1-T0001-20261125-000042-K".into(),
            service_name: "城乡居民基本养老保险参保登记".into(),
            materials: vec!["居民身份证原件".into(), "户口簿".into()],
            next_step: "到本服务站领取结果，请带身份证和本回执。".into(),
            note: "请保留本回执。".into(),
            qr: "BM1-T0001-20261125-000042-K".into(),
        }
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn native_qr_is_model_2_and_gb18030_text() {
        let bytes = build(&sample(), &Layout::default()).unwrap();
        assert!(bytes.starts_with(&[0x1B, 0x40]));
        assert!(contains(
            &bytes,
            &[0x1D, 0x28, 0x6B, 0x04, 0x00, 0x31, 0x41, 0x32, 0x00]
        ));
        assert!(contains(
            &bytes,
            &[0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x51, 0x30]
        ));
        let (gb, _, _) = encoding_rs::GB18030.encode("受理编号");
        assert!(contains(&bytes, &gb));
        assert!(contains(&bytes, &[0x1D, 0x56, 0x00]));
        assert!(!contains(&bytes, &[0x1C, 0x26]));
    }

    #[test]
    fn raster_fallback_fs_and_utf8() {
        let layout = Layout {
            paper: Paper::Mm58,
            encoding: TextEncoding::Utf8,
            fs_and: true,
            native_qr: false,
            partial_cut: true,
        };
        let bytes = build(&sample(), &layout).unwrap();
        assert!(contains(&bytes, &[0x1C, 0x26]));
        assert!(contains(&bytes, &[0x1D, 0x76, 0x30, 0x00]));
        assert!(!contains(&bytes, &[0x1D, 0x28, 0x6B]));
        assert!(contains(&bytes, "受理编号".as_bytes()));
        assert!(contains(&bytes, &[0x1D, 0x56, 0x01]));
    }

    #[test]
    fn documents_print_as_text_without_smuggled_commands() {
        let doc = Document {
            title: "社会保险参保证明".into(),
            station: "演示村便民服务站".into(),
            time: "2026-11-25 10:32".into(),
            body: format!("第一行\n{}\n\x1b@\x1dV\x00第三行", "长".repeat(100)),
            reference: "DOC-1".into(),
        };
        let bytes = build_document(&doc, &Layout::default()).unwrap();
        let mut interpreter = super::super::sim::Interpreter::new(TextEncoding::Gb18030);
        let receipts: Vec<_> = interpreter
            .feed(&bytes)
            .into_iter()
            .filter_map(|event| match event {
                super::super::sim::Event::Cut(r) => Some(r),
                _ => None,
            })
            .collect();
        assert_eq!(receipts.len(), 1, "one document, one cut");
        let text = receipts[0].text();
        assert!(text.contains("社会保险参保证明"), "{text}");
        assert!(
            text.contains("第一行") && text.contains("@V第三行"),
            "{text}"
        );
        assert!(text.contains("文件编号：DOC-1"), "{text}");
        assert!(!text.contains("受理编号"), "{text}");
        let long = text.lines().filter(|l| l.contains('长')).count();
        assert!(
            long >= 3,
            "100 wide characters wrap over several lines: {text}"
        );
        assert!(receipts[0].qr_payloads().is_empty());

        let endless = Document {
            body: "一行\n".repeat(MAX_DOCUMENT_LINES + 50),
            ..doc
        };
        let bytes = build_document(&endless, &Layout::default()).unwrap();
        let (gb, _, _) = encoding_rs::GB18030.encode("一行");
        let printed = bytes.windows(gb.len()).filter(|w| *w == &gb[..]).count();
        assert_eq!(printed, MAX_DOCUMENT_LINES);
        let (gb, _, _) = encoding_rs::GB18030.encode("内容过长");
        assert!(contains(&bytes, &gb));
        assert!(!format!("{endless:?}").contains("一行"));
    }

    #[test]
    fn catalogue_text_with_control_characters_prints_as_text() {
        let receipt = Receipt {
            // ESC @ (reset), GS V 0 (cut), ESC p (open a cash drawer), a
            // C1 CSI and a line feed, smuggled into catalogue and platform text.
            service_name: "社会保障卡\x1b@申领\x1dV\x00\x1bp\x00\x19\u{9b}2J".into(),
            station: "演示村\n便民服务站\x10\x04".into(),
            materials: vec!["户口簿\x1b!\x30".into()],
            note: "请保留\x18本回执。".into(),
            ..sample()
        };
        let bytes = build(&receipt, &Layout::default()).unwrap();
        // Only the builder's own commands: one reset, one cut, no drawer kick.
        let count = |needle: &[u8]| bytes.windows(needle.len()).filter(|w| *w == needle).count();
        assert_eq!(count(&[0x1B, 0x40]), 1, "one ESC @, the builder's");
        assert_eq!(count(&[0x1D, 0x56]), 1, "one cut, the builder's");
        assert_eq!(count(&[0x1B, 0x70]), 0, "no cash-drawer pulse");
        assert_eq!(count(&[0x10]), 0, "no DLE real-time command");
        assert_eq!(count(&[0x18]), 0, "no CAN");
        let mut interpreter = super::super::sim::Interpreter::new(TextEncoding::Gb18030);
        let receipts: Vec<_> = interpreter
            .feed(&bytes)
            .into_iter()
            .filter_map(|event| match event {
                super::super::sim::Event::Cut(r) => Some(r),
                _ => None,
            })
            .collect();
        assert_eq!(receipts.len(), 1, "one receipt, one cut");
        let text = receipts[0].text();
        assert!(text.contains("社会保障卡@申领Vp2J"), "{text}");
        assert!(text.contains("演示村 便民服务站"), "{text}");
        assert!(text.contains("户口簿!0"), "{text}");
        assert_eq!(printable("a\tb\nc\u{7f}", true), "a b\nc");
    }

    #[test]
    fn wrapping_respects_columns() {
        for line in wrap(&"便民".repeat(40), 32, 4) {
            assert!(display_width(&line) <= 32);
        }
        assert_eq!(wrap("", 32, 0), vec![String::new()]);
    }
}
