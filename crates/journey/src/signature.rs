//! The state behind the signature pad: finger strokes in pad pixels, the
//! path the pad draws them with, and the [`Signature`] stored with an
//! application (its picture is the desk's `signature::render_png`).

use bianmin_core::application::{Point, Signature};
use std::fmt::Write as _;
use zeroize::Zeroize;

/// Points kept over all strokes. A signature has a few hundred after
/// thinning; the bound keeps a finger left on the glass (or a stuck touch
/// panel) from growing the record and the pad's path without end.
pub const MAX_POINTS: usize = 4000;

/// A move shorter than this (pad pixels) from the last kept point is
/// dropped: touch panels report jitter at rest, and the path is redrawn on
/// every move.
const MIN_STEP: i64 = 2;

/// Ink width in pad pixels, on screen (SignaturePad draws with the same
/// width) and in the stored picture.
pub const STROKE_WIDTH: f32 = 4.0;

/// Largest side of a pad, and of a picture drawn from one: a pad is a part
/// of a 1280×800 screen; anything larger comes from a damaged record.
pub const MAX_SIDE: u32 = 4096;

/// Strokes being drawn on a pad of a given size.
pub struct SignatureCapture {
    width: u32,
    height: u32,
    strokes: Vec<Vec<Point>>,
    /// The finger is down (even if it wandered off the pad).
    down: bool,
    /// The finger is down and inside: moves extend the last stroke.
    inking: bool,
    points: usize,
}

impl SignatureCapture {
    /// A pad `width`×`height` in logical pixels (the pad's drawing area as
    /// SignaturePad reports it).
    pub fn new(width: f32, height: f32) -> SignatureCapture {
        let side = |v: f32| {
            if v.is_finite() && v > 0.0 {
                (v.round() as u32).min(MAX_SIDE)
            } else {
                0
            }
        };
        SignatureCapture {
            width: side(width),
            height: side(height),
            strokes: Vec::new(),
            down: false,
            inking: false,
            points: 0,
        }
    }

    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Nothing drawn yet.
    pub fn is_empty(&self) -> bool {
        self.strokes.is_empty()
    }

    /// A finger touched the pad at (x, y). Returns whether ink was laid.
    pub fn start(&mut self, x: f32, y: f32) -> bool {
        self.down = true;
        self.inking = false;
        self.begin_stroke(x, y)
    }

    /// The finger moved to (x, y). Points off the pad lift the pen: coming
    /// back starts a new stroke rather than a line across the border.
    /// Returns whether the drawing changed.
    pub fn extend(&mut self, x: f32, y: f32) -> bool {
        if !self.down {
            return false;
        }
        let Some(point) = self.to_point(x, y) else {
            self.inking = false;
            return false;
        };
        if !self.inking {
            return self.begin_stroke(x, y);
        }
        if self.points >= MAX_POINTS {
            return false;
        }
        let Some(last) = self.strokes.last_mut() else {
            return false;
        };
        let previous = last[last.len() - 1];
        let (dx, dy) = (
            i64::from(point.x - previous.x),
            i64::from(point.y - previous.y),
        );
        if dx * dx + dy * dy < MIN_STEP * MIN_STEP {
            return false;
        }
        last.push(point);
        self.points += 1;
        true
    }

    /// The finger left the glass.
    pub fn end(&mut self) {
        self.down = false;
        self.inking = false;
    }

    /// The pad changed size (large mode switched while signing): what is
    /// drawn is scaled, keeping its proportions, so it stays on the sheet.
    /// A stroke in progress ends; the finger's next move starts another.
    pub fn resize(&mut self, width: f32, height: f32) {
        let resized = SignatureCapture::new(width, height);
        let (new_w, new_h) = resized.size();
        if (new_w, new_h) == (self.width, self.height) {
            return;
        }
        if self.width == 0 || self.height == 0 || new_w == 0 || new_h == 0 {
            self.clear();
        } else {
            let scale = (f64::from(new_w) / f64::from(self.width))
                .min(f64::from(new_h) / f64::from(self.height));
            for point in self.strokes.iter_mut().flatten() {
                point.x = ((f64::from(point.x) * scale).round() as i32).min(new_w as i32);
                point.y = ((f64::from(point.y) * scale).round() as i32).min(new_h as i32);
            }
        }
        self.width = new_w;
        self.height = new_h;
        self.inking = false;
    }

    /// 重写: start over.
    pub fn clear(&mut self) {
        self.strokes.zeroize();
        self.strokes.clear();
        self.points = 0;
        self.down = false;
        self.inking = false;
    }

    fn begin_stroke(&mut self, x: f32, y: f32) -> bool {
        let Some(point) = self.to_point(x, y) else {
            return false;
        };
        if self.points >= MAX_POINTS {
            return false;
        }
        self.strokes.push(vec![point]);
        self.points += 1;
        self.inking = true;
        true
    }

    fn to_point(&self, x: f32, y: f32) -> Option<Point> {
        let inside = |v: f32, side: u32| v.is_finite() && v >= 0.0 && v <= side as f32;
        (inside(x, self.width) && inside(y, self.height)).then(|| Point {
            x: x.round() as i32,
            y: y.round() as i32,
        })
    }

    /// The strokes as SVG path commands in pad pixels, for SignaturePad's
    /// `ink` (its Path's viewbox is the pad size).
    pub fn path_commands(&self) -> String {
        path_commands(&self.strokes)
    }

    /// The signature as stored with an application.
    pub fn signature(&self) -> Signature {
        Signature {
            width: self.width,
            height: self.height,
            strokes: self.strokes.clone(),
        }
    }
}

impl Drop for SignatureCapture {
    fn drop(&mut self) {
        self.clear();
    }
}

// A signature is personal data: only its shape is printed.
impl std::fmt::Debug for SignatureCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureCapture")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("strokes", &self.strokes.len())
            .finish()
    }
}

/// A lone point (a tap, the dot of 主) is drawn as a one-pixel line: with
/// round caps that is a dot of the ink's width, where a zero-length line
/// or a tiny circle leaves no ink or a hole in some renderers.
pub const DOT_LENGTH: i32 = 1;

fn path_commands(strokes: &[Vec<Point>]) -> String {
    let mut out = String::new();
    for stroke in strokes {
        let Some((first, rest)) = stroke.split_first() else {
            continue;
        };
        if !out.is_empty() {
            out.push(' ');
        }
        if rest.is_empty() {
            let _ = write!(
                out,
                "M {} {} L {} {}",
                first.x,
                first.y,
                first.x + DOT_LENGTH,
                first.y
            );
            continue;
        }
        let _ = write!(out, "M {} {}", first.x, first.y);
        for p in rest {
            let _ = write!(out, " L {} {}", p.x, p.y);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drawn(capture: &mut SignatureCapture, stroke: &[(f32, f32)]) {
        let (x, y) = stroke[0];
        capture.start(x, y);
        for &(x, y) in &stroke[1..] {
            capture.extend(x, y);
        }
        capture.end();
    }

    #[test]
    fn strokes_become_path_commands_in_pad_pixels() {
        let mut capture = SignatureCapture::new(600.0, 200.0);
        assert!(capture.is_empty());
        assert_eq!(capture.path_commands(), "");
        drawn(&mut capture, &[(10.0, 20.0), (30.4, 40.6), (50.0, 20.0)]);
        drawn(&mut capture, &[(100.0, 100.0), (120.0, 110.0)]);
        assert_eq!(
            capture.path_commands(),
            "M 10 20 L 30 41 L 50 20 M 100 100 L 120 110"
        );
        let signature = capture.signature();
        assert_eq!((signature.width, signature.height), (600, 200));
        assert_eq!(signature.strokes.len(), 2);
        assert_eq!(signature.strokes[0][1], Point { x: 30, y: 41 });
        assert!(signature.is_meaningful());
        capture.clear();
        assert!(capture.is_empty());
        assert_eq!(capture.path_commands(), "");
        assert!(!capture.signature().is_meaningful());
    }

    #[test]
    fn a_lone_tap_is_a_dot_but_not_a_signature() {
        let mut capture = SignatureCapture::new(600.0, 200.0);
        drawn(&mut capture, &[(50.0, 60.0)]);
        assert_eq!(capture.path_commands(), "M 50 60 L 51 60");
        assert!(!capture.signature().is_meaningful());
    }

    #[test]
    fn points_off_the_pad_are_ignored_and_lift_the_pen() {
        let mut capture = SignatureCapture::new(300.0, 100.0);
        assert!(!capture.start(-5.0, 10.0), "touch outside");
        assert!(capture.is_empty());
        // Entering from outside starts the stroke there.
        assert!(capture.extend(10.0, 10.0));
        assert!(capture.extend(50.0, 10.0));
        assert!(!capture.extend(350.0, 10.0), "off the right edge");
        assert!(!capture.extend(f32::NAN, 10.0));
        assert!(capture.extend(60.0, 50.0), "back inside: a new stroke");
        assert!(capture.extend(60.0, 90.0));
        assert!(
            capture.extend(300.0, 100.0),
            "the edge itself is on the pad"
        );
        capture.end();
        assert!(!capture.extend(20.0, 20.0), "no finger, no ink");
        assert_eq!(
            capture.path_commands(),
            "M 10 10 L 50 10 M 60 50 L 60 90 L 300 100"
        );
        assert!(capture.signature().is_meaningful());
    }

    #[test]
    fn jitter_is_thinned_and_points_are_bounded() {
        let mut capture = SignatureCapture::new(1000.0, 1000.0);
        capture.start(500.0, 500.0);
        assert!(!capture.extend(500.6, 500.4), "jitter under a pixel");
        assert!(!capture.extend(501.0, 500.0), "one pixel");
        assert!(capture.extend(502.0, 500.0));
        capture.end();
        assert_eq!(capture.signature().strokes[0].len(), 2);
        capture.clear();
        for i in 0..(MAX_POINTS as i32 + 500) {
            let (x, y) = ((i * 7 % 1000) as f32, (i * 13 % 1000) as f32);
            if i % 50 == 0 {
                capture.end();
                capture.start(x, y);
            } else {
                capture.extend(x, y);
            }
        }
        let total: usize = capture.signature().strokes.iter().map(Vec::len).sum();
        assert_eq!(total, MAX_POINTS);
        assert!(!capture.start(1.0, 1.0), "full");
    }

    #[test]
    fn resizing_scales_the_ink_and_keeps_it_on_the_pad() {
        let mut capture = SignatureCapture::new(1200.0, 400.0);
        capture.start(600.0, 200.0);
        capture.extend(1200.0, 400.0);
        capture.resize(600.0, 300.0);
        assert_eq!(capture.size(), (600, 300));
        assert_eq!(capture.path_commands(), "M 300 100 L 600 200");
        // The finger still down draws a new stroke, not a jump.
        assert!(capture.extend(100.0, 100.0));
        assert!(capture.extend(120.0, 100.0));
        assert_eq!(capture.signature().strokes.len(), 2);
        assert!(capture.signature().is_meaningful());
        capture.resize(600.0, 300.0);
        assert_eq!(capture.signature().strokes.len(), 2, "same size: unchanged");
        capture.resize(0.0, 300.0);
        assert!(capture.is_empty());
    }

    #[test]
    fn a_pad_of_no_size_takes_no_ink() {
        let mut capture = SignatureCapture::new(f32::NAN, -3.0);
        assert_eq!(capture.size(), (0, 0));
        assert!(!capture.start(1.0, 1.0));
    }

    #[test]
    fn debug_shows_no_points() {
        let mut capture = SignatureCapture::new(300.0, 100.0);
        drawn(&mut capture, &[(12.0, 34.0), (56.0, 78.0)]);
        let shown = format!("{capture:?}");
        assert!(!shown.contains("34") && !shown.contains("56"), "{shown}");
    }
}
