//! From a stitched RGB raster to model inputs: the raster is cut into windows of at most
//! the model's input size (one window when it fits), each padded on the right and bottom
//! to a multiple of 32 with ultralytics' letterbox grey (114) and scaled to 0..1. Pixels are
//! never resampled, so a detection's model coordinates are raster coordinates plus the
//! window offset.

use crate::model::config::STRIDE_MULTIPLE;
use crate::{Error, Result};

/// Letterbox padding value (ultralytics' grey).
pub const PAD_VALUE: u8 = 114;

/// A rectangle of the raster fed to the model in one pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl Window {
    /// Model input `[height, width]`: the window rounded up to a multiple of 32.
    pub fn input_hw(&self) -> [usize; 2] {
        let up = |v: u32| (v as usize).div_ceil(STRIDE_MULTIPLE) * STRIDE_MULTIPLE;
        [up(self.height), up(self.width)]
    }

    /// The same window in the pixels of a raster whose top-left pixel is `offset` here (a
    /// chunk's raster in its area); a window left or above the raster lands past any raster
    /// (`u32::MAX`), which cutting it then refuses.
    pub fn in_raster_at(&self, offset: (u32, u32)) -> Window {
        Window {
            x: self.x.checked_sub(offset.0).unwrap_or(u32::MAX),
            y: self.y.checked_sub(offset.1).unwrap_or(u32::MAX),
            ..*self
        }
    }

    /// Which sides (left, top, right, bottom) lie inside the raster rather than on its border.
    /// Detections touching such a side may be cut off and are left to the neighbouring window.
    pub fn interior_sides(&self, raster_w: u32, raster_h: u32) -> [bool; 4] {
        [self.x > 0, self.y > 0, self.x + self.width < raster_w, self.y + self.height < raster_h]
    }
}

/// Start offsets along one axis of `len` pixels: windows of `size` stepping by
/// `size - overlap`, the last one flush with the end (one window when it fits).
pub fn window_starts(len: u32, size: u32, overlap: u32) -> Result<Vec<u32>> {
    if len == 0 {
        return Err(Error::Internal("cannot plan windows over an empty raster".into()));
    }
    if size == 0 || overlap >= size / 2 {
        return Err(Error::invalid_option(
            "windowOverlap",
            format!("must be below half the model input ({})", size / 2),
        ));
    }
    if len <= size {
        return Ok(vec![0]);
    }
    let step = size - overlap;
    let mut out: Vec<u32> = (0..).map(|i| i * step).take_while(|&s| s + size < len).collect();
    out.push(len - size);
    Ok(out)
}

/// Windows covering a `width` x `height` raster for a model with `size` x `size` input,
/// neighbours overlapping by `overlap` pixels, row by row.
pub fn plan_windows(width: u32, height: u32, size: u32, overlap: u32) -> Result<Vec<Window>> {
    let xs = window_starts(width, size, overlap)?;
    let ys = window_starts(height, size, overlap)?;
    Ok(ys
        .iter()
        .flat_map(|&y| {
            xs.iter().map(move |&x| Window { x, y, width: size.min(width - x), height: size.min(height - y) })
        })
        .collect())
}

/// The window as a `[3, H, W]` float tensor (RGB planes, value / 255, padded with
/// [`PAD_VALUE`]). `rgb` is the raster, `raster_w` pixels per row, 3 bytes per pixel.
pub fn to_chw(rgb: &[u8], raster_w: u32, window: &Window) -> Result<Vec<f32>> {
    input_rows(rgb, raster_w, window, 0..window.input_hw()[0])
}

/// Rows `rows` of [`to_chw`]'s tensor, `[3, rows.len(), W]`: each channel's rows one after the
/// other. Only the raster rows those rows show are read (a window's first rows can be made
/// while the raster below them is still being put together).
pub fn input_rows(rgb: &[u8], raster_w: u32, window: &Window, rows: std::ops::Range<usize>) -> Result<Vec<f32>> {
    let [h, w] = window.input_hw();
    let (rw, x0, y0) = (raster_w as usize, window.x as usize, window.y as usize);
    let shown = rows.start.min(window.height as usize)..rows.end.min(window.height as usize);
    let last_row_end = ((y0 + shown.end.max(1) - 1) * rw + x0 + window.width as usize) * 3;
    if window.x + window.width > raster_w || last_row_end > rgb.len() || rows.start > rows.end || rows.end > h {
        return Err(Error::Internal(format!(
            "rows {rows:?} of window {window:?} lie outside the {raster_w}-wide raster"
        )));
    }
    let pad = PAD_VALUE as f32 / 255.0;
    let n = rows.len();
    let mut out = vec![pad; 3 * n * w];
    for yy in shown {
        let src = &rgb[((y0 + yy) * rw + x0) * 3..((y0 + yy) * rw + x0 + window.width as usize) * 3];
        let at = (yy - rows.start) * w;
        for (xx, px) in src.chunks_exact(3).enumerate() {
            for c in 0..3 {
                out[c * n * w + at + xx] = px[c] as f32 / 255.0;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_window_when_it_fits() {
        let w = plan_windows(700, 300, 1024, 128).unwrap();
        assert_eq!(w, vec![Window { x: 0, y: 0, width: 700, height: 300 }]);
        assert_eq!(w[0].input_hw(), [320, 704]);
        assert_eq!(w[0].interior_sides(700, 300), [false; 4]);
    }

    #[test]
    fn windows_cover_with_overlap_and_end_flush() {
        let w = plan_windows(2500, 1100, 1024, 128).unwrap();
        let xs: Vec<u32> = w.iter().filter(|w| w.y == 0).map(|w| w.x).collect();
        assert_eq!(xs, vec![0, 896, 1476]);
        let ys: Vec<u32> = w.iter().filter(|w| w.x == 0).map(|w| w.y).collect();
        assert_eq!(ys, vec![0, 76]);
        assert!(w.iter().all(|w| w.width == 1024 && w.height == 1024));
        // Every pixel is covered.
        for (x, y) in [(0, 0), (2499, 1099), (1000, 1050), (1919, 500)] {
            assert!(w.iter().any(|w| x >= w.x && x < w.x + w.width && y >= w.y && y < w.y + w.height));
        }
        assert_eq!(w[0].interior_sides(2500, 1100), [false, false, true, true]);
        assert!(plan_windows(10, 10, 1024, 600).is_err());
        assert!(plan_windows(0, 10, 1024, 0).is_err());
    }

    #[test]
    fn chw_layout_scaling_and_padding() {
        // 3x2 raster, pixel (x, y) = (10x + y, 100 + x, 200 + y).
        let rgb: Vec<u8> = (0..2).flat_map(|y| (0..3).flat_map(move |x| [10 * x + y, 100 + x, 200 + y])).collect();
        let win = Window { x: 1, y: 0, width: 2, height: 2 };
        let t = to_chw(&rgb, 3, &win).unwrap();
        let (h, w) = (32, 32);
        assert_eq!(t.len(), 3 * h * w);
        // Raster pixel (2, 1) is window pixel (1, 1).
        assert_eq!(t[w + 1], 21.0 / 255.0);
        assert_eq!(t[h * w + w + 1], 102.0 / 255.0);
        assert_eq!(t[2 * h * w + w + 1], 201.0 / 255.0);
        assert_eq!(t[2], 114.0 / 255.0);
        assert!(to_chw(&rgb, 3, &Window { x: 2, y: 0, width: 2, height: 2 }).is_err());
        assert!(to_chw(&rgb, 3, &Window { x: 0, y: 1, width: 3, height: 2 }).is_err());
    }
}
