//! [`RgbaImage`]: 8-bit RGBA pixels, row after row, and copying a rectangle of one into
//! another (tiles into a window).

/// An RGBA8 image.
#[derive(Clone, PartialEq, Eq)]
pub struct RgbaImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width × height × 4` bytes: R, G, B, A for each pixel, rows top to bottom.
    pub data: Vec<u8>,
}

impl std::fmt::Debug for RgbaImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RgbaImage").field("width", &self.width).field("height", &self.height).finish_non_exhaustive()
    }
}

impl RgbaImage {
    /// All transparent black.
    pub fn transparent(width: u32, height: u32) -> Self {
        RgbaImage { width, height, data: vec![0; width as usize * height as usize * 4] }
    }

    /// The pixel at `(x, y)`, if inside.
    pub fn pixel(&self, x: u32, y: u32) -> Option<[u8; 4]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = (y as usize * self.width as usize + x as usize) * 4;
        let p = self.data.get(i..i + 4)?;
        Some([p[0], p[1], p[2], p[3]])
    }

    /// Copies the `width × height` rectangle of `src` at `(sx, sy)` to `(dx, dy)` here, clipped
    /// to both images.
    #[allow(clippy::too_many_arguments)]
    pub fn copy_from(&mut self, src: &RgbaImage, sx: u32, sy: u32, dx: u32, dy: u32, width: u32, height: u32) {
        let w = width.min(src.width.saturating_sub(sx)).min(self.width.saturating_sub(dx)) as usize;
        let h = height.min(src.height.saturating_sub(sy)).min(self.height.saturating_sub(dy)) as usize;
        if w == 0 {
            return;
        }
        for row in 0..h {
            let s = ((sy as usize + row) * src.width as usize + sx as usize) * 4;
            let d = ((dy as usize + row) * self.width as usize + dx as usize) * 4;
            // `data` shorter than `width × height × 4` (the fields are public) ends the copy.
            let (Some(from), Some(to)) = (src.data.get(s..s + w * 4), self.data.get_mut(d..d + w * 4)) else { return };
            to.copy_from_slice(from);
        }
    }

    /// The `width × height` rectangle at `(x, y)`, clipped to the image (`width` and `height`
    /// shrink at the edges).
    pub fn crop(&self, x: u32, y: u32, width: u32, height: u32) -> RgbaImage {
        let w = width.min(self.width.saturating_sub(x));
        let h = height.min(self.height.saturating_sub(y));
        let mut out = RgbaImage::transparent(w, h);
        out.copy_from(self, x, y, 0, 0, w, h);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_is_clipped_on_both_sides() {
        let mut src = RgbaImage::transparent(3, 2);
        for (i, b) in src.data.iter_mut().enumerate() {
            *b = i as u8;
        }
        let mut dst = RgbaImage::transparent(2, 2);
        dst.copy_from(&src, 1, 0, 1, 1, 5, 5);
        assert_eq!(dst.pixel(1, 1), Some([4, 5, 6, 7]));
        assert_eq!(dst.pixel(0, 0), Some([0, 0, 0, 0]));
        let c = src.crop(2, 1, 4, 4);
        assert_eq!((c.width, c.height), (1, 1));
        assert_eq!(c.pixel(0, 0), Some([20, 21, 22, 23]));
        assert_eq!(c.pixel(1, 0), None);
    }
}
