//! The picture of a [`Signature`] for the record: dark ink on white, the
//! pad's size (the strokes are captured by `bianmin_journey::signature`).

use bianmin_core::application::Signature;
use bianmin_journey::signature::{DOT_LENGTH, MAX_SIDE, STROKE_WIDTH};

#[derive(Debug, thiserror::Error)]
pub enum SignatureImageError {
    #[error("签名区域大小不对：{0}×{1}")]
    BadSize(u32, u32),
    #[error("签名图片生成失败：{0}")]
    Encode(#[from] image::ImageError),
}

/// The signature as a greyscale PNG of the pad's size: dark strokes on
/// white, for storing with the application and printing on paper.
pub fn render_png(signature: &Signature) -> Result<Vec<u8>, SignatureImageError> {
    use tiny_skia::{FillRule, LineCap, LineJoin, Mask, PathBuilder, Stroke, Transform};
    let (width, height) = (signature.width, signature.height);
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(SignatureImageError::BadSize(width, height));
    }
    let mut coverage =
        Mask::new(width, height).ok_or(SignatureImageError::BadSize(width, height))?;
    let stroke = Stroke {
        width: STROKE_WIDTH,
        line_cap: LineCap::Round,
        line_join: LineJoin::Round,
        ..Stroke::default()
    };
    let mut builder = PathBuilder::new();
    for line in &signature.strokes {
        let Some((first, rest)) = line.split_first() else {
            continue;
        };
        builder.move_to(first.x as f32, first.y as f32);
        if rest.is_empty() {
            builder.line_to((first.x + DOT_LENGTH) as f32, first.y as f32);
            continue;
        }
        for p in rest {
            builder.line_to(p.x as f32, p.y as f32);
        }
    }
    if let Some(outline) = builder.finish().and_then(|p| p.stroke(&stroke, 1.0)) {
        coverage.fill_path(&outline, FillRule::Winding, true, Transform::identity());
    }
    // Ink coverage → grey level: uncovered is white paper.
    let pixels: Vec<u8> = coverage.data().iter().map(|a| 255 - a).collect();
    let image = image::GrayImage::from_raw(width, height, pixels)
        .ok_or(SignatureImageError::BadSize(width, height))?;
    let mut png = std::io::Cursor::new(Vec::new());
    image.write_to(&mut png, image::ImageFormat::Png)?;
    Ok(png.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bianmin_journey::signature::SignatureCapture;

    fn drawn(capture: &mut SignatureCapture, stroke: &[(f32, f32)]) {
        let (x, y) = stroke[0];
        capture.start(x, y);
        for &(x, y) in &stroke[1..] {
            capture.extend(x, y);
        }
        capture.end();
    }

    #[test]
    fn a_pad_of_no_size_has_no_picture() {
        let capture = SignatureCapture::new(f32::NAN, -3.0);
        assert!(render_png(&capture.signature()).is_err());
    }

    #[test]
    fn the_picture_has_the_pad_size_and_dark_ink_on_white() {
        let mut capture = SignatureCapture::new(320.0, 120.0);
        drawn(&mut capture, &[(20.0, 60.0), (160.0, 20.0), (300.0, 100.0)]);
        drawn(&mut capture, &[(150.0, 110.0)]);
        let png = render_png(&capture.signature()).unwrap();
        let image = image::load_from_memory_with_format(&png, image::ImageFormat::Png)
            .unwrap()
            .to_luma8();
        assert_eq!(image.dimensions(), (320, 120));
        // Corners are paper; the middle of a stroke and the dot are ink.
        assert_eq!(image.get_pixel(0, 0).0[0], 255);
        assert_eq!(image.get_pixel(319, 0).0[0], 255);
        assert!(image.get_pixel(160, 21).0[0] < 64, "stroke");
        assert!(image.get_pixel(150, 110).0[0] < 128, "dot");
        let dark = image.pixels().filter(|p| p.0[0] < 128).count();
        // Two lines of about 290 px, 4 px wide.
        assert!((800..2000).contains(&dark), "{dark} dark pixels");
    }

    #[test]
    fn an_oversized_record_is_refused_not_drawn() {
        let signature = Signature {
            width: 100_000,
            height: 100_000,
            strokes: Vec::new(),
        };
        assert!(matches!(
            render_png(&signature),
            Err(SignatureImageError::BadSize(100_000, 100_000))
        ));
    }
}
