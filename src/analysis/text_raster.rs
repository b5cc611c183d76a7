//! A bitmap backend whose text is laid out correctly.
//!
//! plotters 0.3.7 draws text through ab_glyph but places every glyph's ink
//! at the pen position, ignoring the glyph's left side bearing (where the
//! ink starts relative to the pen). Letters then sit unevenly: "PKJ"
//! reads "PK J", because 'J' starts left of its pen and 'K' right of it.
//! `GlyphBitmap` wraps plotters' `BitMapBackend`, passes everything
//! through unchanged, and draws text itself: each glyph at its pen
//! position plus its own bearing, at sub-pixel precision, with plotters'
//! own anchoring, rotation and vertical placement (so the layout of a
//! figure does not move; only the letters within a label do). SVG output
//! is unaffected (it writes text as text).

use ab_glyph::{point, Font, FontRef, GlyphId, ScaleFont};
use plotters::prelude::*;
use plotters_backend::{
    text_anchor::{HPos, VPos},
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind,
};
use std::sync::OnceLock;

type BitmapError = <BitMapBackend<'static> as DrawingBackend>::ErrorType;

/// plotters' RGB bitmap backend with text drawn by [`draw_glyphs`].
pub struct GlyphBitmap<'a> {
    inner: BitMapBackend<'a>,
}

impl<'a> GlyphBitmap<'a> {
    /// Draw into `buf` (`width * height * 3` bytes, RGB).
    pub fn with_buffer(buf: &'a mut [u8], size: (u32, u32)) -> Self {
        Self {
            inner: BitMapBackend::with_buffer(buf, size),
        }
    }
}

/// The bundled font, parsed once.
fn font() -> Option<&'static FontRef<'static>> {
    static FONT: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(super::FONT_BYTES).ok())
        .as_ref()
}

/// Rasterise `text` at pixel size `size` with the pen starting at x = 0:
/// calls `ink(x, y, coverage)` for every covered pixel. The baseline is at
/// y = size / 2, where plotters puts it, so that labels keep their place.
pub fn draw_glyphs(font: &FontRef<'_>, size: f32, text: &str, mut ink: impl FnMut(i32, i32, f32)) {
    let scaled = font.as_scaled(size);
    let mut pen = 0f32;
    let mut previous: Option<GlyphId> = None;
    for c in text.chars() {
        let id = font.glyph_id(c);
        if let Some(previous) = previous {
            pen += scaled.kern(previous, id);
        }
        let glyph = id.with_scale_and_position(size, point(pen, size / 2.0));
        if let Some(outline) = font.outline_glyph(glyph) {
            let bounds = outline.px_bounds();
            let (x0, y0) = (bounds.min.x as i32, bounds.min.y as i32);
            outline.draw(|x, y, coverage| ink(x0 + x as i32, y0 + y as i32, coverage));
        }
        pen += scaled.h_advance(id);
        previous = Some(id);
    }
}

impl DrawingBackend for GlyphBitmap<'_> {
    type ErrorType = BitmapError;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<BitmapError>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<BitmapError>> {
        self.inner.present()
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<BitmapError>> {
        self.inner.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<BitmapError>> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<BitmapError>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        (iw, ih): (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<BitmapError>> {
        self.inner.blit_bitmap(pos, (iw, ih), src)
    }

    /// plotters' default `draw_text` (anchor, rotation, clipping) with the
    /// glyphs placed by `draw_glyphs` instead of the font's own `draw`.
    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<BitmapError>> {
        let color = style.color();
        let Some(font) = font() else {
            // Unreachable once `register_font` has succeeded (the same
            // bytes); fall back to plotters' own drawing rather than fail.
            return self.inner.draw_text(text, style, pos);
        };
        if color.alpha == 0.0 {
            return Ok(());
        }
        let ((min_x, min_y), (max_x, max_y)) = style
            .layout_box(text)
            .map_err(|e| DrawingErrorKind::FontError(Box::new(e)))?;
        let (width, height) = (max_x - min_x, max_y - min_y);
        let dx = match style.anchor().h_pos {
            HPos::Left => 0,
            HPos::Right => -width,
            HPos::Center => -width / 2,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0,
            VPos::Center => -height / 2,
            VPos::Bottom => -height,
        };
        let transform = style.transform();
        let (w, h) = self.get_size();
        let mut result = Ok(());
        draw_glyphs(font, style.size() as f32, text, |x, y, coverage| {
            let (x, y) = transform.transform(x + dx - min_x, y + dy - min_y);
            let (x, y) = (pos.0 + x, pos.1 + y);
            if result.is_ok() && x >= 0 && x < w as i32 && y >= 0 && y < h as i32 {
                result = self.inner.draw_pixel((x, y), color.mix(coverage as f64));
            }
        });
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The runs of blank columns between a label's first and last inked
    /// column, left to right.
    fn inner_gaps(text: &str, size: f32) -> Vec<usize> {
        let mut inked = vec![false; 400];
        draw_glyphs(
            font().expect("bundled font"),
            size,
            text,
            |x, _, coverage| {
                if coverage > 0.25 {
                    inked[x as usize] = true;
                }
            },
        );
        let first = inked.iter().position(|&c| c).unwrap_or(0);
        let last = inked.iter().rposition(|&c| c).unwrap_or(0);
        let (mut gaps, mut run) = (Vec::new(), 0);
        for &ink in &inked[first..=last] {
            if ink && run > 0 {
                gaps.push(run);
            }
            run = if ink { 0 } else { run + 1 };
        }
        gaps
    }

    #[test]
    fn words_are_separated_and_letters_are_not() {
        // Drawn at the pen without bearings (plotters' placement), the
        // title "PKJ mean" reads "PK Jmean": 'J' starts left of its pen and
        // moves right, into the space. Placed by their bearings, the space
        // is the widest gap by far.
        for size in [16.0, 26.0] {
            let mut gaps = inner_gaps("PKJ mean", size);
            gaps.sort_unstable_by(|a, b| b.cmp(a));
            assert!(
                gaps.len() >= 2 && gaps[0] >= 2 * gaps[1],
                "size {size}: gaps {gaps:?} in 'PKJ mean', widest first"
            );
        }
    }
}
