//! Boxes in raster pixels: rotated rectangles (OBB) with axis-aligned boxes as angle 0.

use geo::{Area, BooleanOps, Coord, LineString, Polygon};
use serde::{Deserialize, Serialize};
use std::f64::consts::{FRAC_PI_2, PI};

/// A rectangle centred at (`cx`, `cy`), `w` wide along its own x axis and `h` tall, rotated
/// by `angle` radians (clockwise on screen, since raster y grows downwards; ultralytics'
/// convention).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RotatedBox {
    pub cx: f64,
    pub cy: f64,
    pub w: f64,
    pub h: f64,
    pub angle: f64,
}

impl RotatedBox {
    /// The four corners, in ultralytics' `xywhr2xyxyxyxy` order.
    pub fn corners(&self) -> [[f64; 2]; 4] {
        let (sin, cos) = self.angle.sin_cos();
        let v1 = [self.w / 2.0 * cos, self.w / 2.0 * sin];
        let v2 = [-self.h / 2.0 * sin, self.h / 2.0 * cos];
        let c = [self.cx, self.cy];
        [
            [c[0] + v1[0] + v2[0], c[1] + v1[1] + v2[1]],
            [c[0] + v1[0] - v2[0], c[1] + v1[1] - v2[1]],
            [c[0] - v1[0] - v2[0], c[1] - v1[1] - v2[1]],
            [c[0] - v1[0] + v2[0], c[1] - v1[1] + v2[1]],
        ]
    }

    /// Same rectangle with the angle in `[0, π/2)`, swapping width and height when the
    /// angle (mod π) is at least π/2 (ultralytics' `regularize_rboxes`).
    pub fn regularized(self) -> Self {
        let swap = self.angle.rem_euclid(PI) >= FRAC_PI_2;
        let (w, h) = if swap { (self.h, self.w) } else { (self.w, self.h) };
        Self { w, h, angle: self.angle.rem_euclid(FRAC_PI_2), ..self }
    }

    /// Axis-aligned bounds `[min_x, min_y, max_x, max_y]`.
    pub fn bounds(&self) -> [f64; 4] {
        let c = self.corners();
        let xs = c.map(|p| p[0]);
        let ys = c.map(|p| p[1]);
        let min = |v: [f64; 4]| v.into_iter().fold(f64::INFINITY, f64::min);
        let max = |v: [f64; 4]| v.into_iter().fold(f64::NEG_INFINITY, f64::max);
        [min(xs), min(ys), max(xs), max(ys)]
    }

    /// Area.
    pub fn area(&self) -> f64 {
        (self.w * self.h).abs()
    }

    fn polygon(&self) -> Polygon<f64> {
        let ring: Vec<Coord<f64>> = self.corners().iter().map(|p| Coord { x: p[0], y: p[1] }).collect();
        Polygon::new(LineString::from(ring), vec![])
    }

    /// Intersection over union. Axis-aligned pairs use the closed form; rotated pairs the
    /// exact polygon intersection. Boxes whose bounds do not overlap are 0 without clipping.
    ///
    /// ```
    /// use geodetect::detect::RotatedBox;
    /// use std::f64::consts::FRAC_PI_4;
    ///
    /// let square = RotatedBox { cx: 0.0, cy: 0.0, w: 2.0, h: 2.0, angle: 0.0 };
    /// let shifted = RotatedBox { cx: 1.0, ..square };
    /// assert_eq!(square.iou(&shifted), 2.0 / 6.0);
    /// // The same square turned by 45°: the overlap is the regular octagon, 8 (sqrt 2 - 1) in
    /// // area, of a union of 8 - that.
    /// let turned = RotatedBox { angle: FRAC_PI_4, ..square };
    /// let octagon = 8.0 * (2f64.sqrt() - 1.0);
    /// assert!((square.iou(&turned) - octagon / (8.0 - octagon)).abs() < 1e-9);
    /// ```
    pub fn iou(&self, other: &RotatedBox) -> f64 {
        let (a, b) = (self.bounds(), other.bounds());
        if a[0] >= b[2] || b[0] >= a[2] || a[1] >= b[3] || b[1] >= a[3] {
            return 0.0;
        }
        let inter = if self.angle == 0.0 && other.angle == 0.0 {
            (a[2].min(b[2]) - a[0].max(b[0])) * (a[3].min(b[3]) - a[1].max(b[1]))
        } else {
            self.polygon().intersection(&other.polygon()).unsigned_area()
        };
        let union = self.area() + other.area() - inter;
        if union > 0.0 { inter / union } else { 0.0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rb(cx: f64, cy: f64, w: f64, h: f64, angle: f64) -> RotatedBox {
        RotatedBox { cx, cy, w, h, angle }
    }

    #[test]
    fn axis_aligned_iou() {
        let a = rb(5.0, 5.0, 10.0, 10.0, 0.0);
        assert_eq!(a.iou(&a), 1.0);
        let b = rb(10.0, 5.0, 10.0, 10.0, 0.0);
        assert!((a.iou(&b) - 50.0 / 150.0).abs() < 1e-12);
        assert_eq!(a.iou(&rb(20.0, 5.0, 10.0, 10.0, 0.0)), 0.0);
    }

    #[test]
    fn rotated_iou_matches_geometry() {
        // A square and the same square turned 45°: the intersection is a regular octagon of
        // area 2(√2 − 1)·s² for side s.
        let s = 2.0;
        let a = rb(0.0, 0.0, s, s, 0.0);
        let b = rb(0.0, 0.0, s, s, PI / 4.0);
        let octagon = 2.0 * (2f64.sqrt() - 1.0) * s * s;
        let want = octagon / (2.0 * s * s - octagon);
        assert!((a.iou(&b) - want).abs() < 1e-9, "{} vs {want}", a.iou(&b));
        // Rotation by 90° of a square is the same square.
        assert!((a.iou(&rb(0.0, 0.0, s, s, PI / 2.0)) - 1.0).abs() < 1e-9);
        // A 10x2 bar crossing a 2x10 bar: intersection 2x2 = 4, union 36.
        let bar = rb(0.0, 0.0, 10.0, 2.0, 0.0);
        assert!((bar.iou(&rb(0.0, 0.0, 10.0, 2.0, PI / 2.0)) - 4.0 / 36.0).abs() < 1e-9);
    }

    #[test]
    fn degenerate_boxes_have_zero_iou() {
        let z = rb(0.0, 0.0, 0.0, 0.0, 0.3);
        assert_eq!(z.iou(&z), 0.0);
    }

    #[test]
    fn regularization_matches_ultralytics() {
        let r = rb(0.0, 0.0, 4.0, 2.0, 2.0).regularized();
        assert_eq!((r.w, r.h), (2.0, 4.0));
        assert!((r.angle - (2.0 - FRAC_PI_2)).abs() < 1e-12);
        let r = rb(0.0, 0.0, 4.0, 2.0, -0.5).regularized();
        // -0.5 mod π = π − 0.5 ≥ π/2 → swap; angle = -0.5 mod π/2.
        assert_eq!((r.w, r.h), (2.0, 4.0));
        assert!((r.angle - (FRAC_PI_2 - 0.5)).abs() < 1e-12);
        // Regularizing never changes the covered area.
        let a = rb(3.0, 4.0, 6.0, 2.0, 2.5);
        assert!((a.iou(&a.regularized()) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn corners_follow_the_angle() {
        let c = rb(0.0, 0.0, 4.0, 2.0, FRAC_PI_2).corners();
        // Width now runs along +y.
        assert!((c[0][0] - -1.0).abs() < 1e-12 && (c[0][1] - 2.0).abs() < 1e-12, "{c:?}");
    }
}
