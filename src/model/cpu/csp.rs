//! ultralytics' `C2f` block (and `C3k2`, the same block around other inner blocks) on the
//! CPU path, on slices: `cv1`'s output and each inner block's are written straight into their
//! channels of the one buffer that `cv2` reads, so the block neither splits `cv1`'s output
//! nor concatenates the pieces (burn's `narrow` + `cat` copied every block's activations
//! twice, serially, whatever the thread count). A `C3k` inner block works the same way on a
//! buffer of its own.

use super::PackedConv;
use crate::{Error, Result};

/// The convolutions of one `C2f`: `cv1` (1×1, to `2c` channels), the inner blocks (`c → c`
/// each), `cv2` (1×1, from `(2 + n) · c` channels).
#[derive(Debug)]
pub struct C2fConvs<'a> {
    pub cv1: &'a PackedConv,
    pub blocks: Vec<Inner<'a>>,
    pub cv2: &'a PackedConv,
}

/// One inner block of a [`C2fConvs`].
#[derive(Debug)]
pub enum Inner<'a> {
    /// Two 3×3 convolutions, and whether the block adds its input back.
    Bottleneck(&'a PackedConv, &'a PackedConv, bool),
    /// `C3k`: `cv1` and `cv2` (1×1, to `h` channels each), bottlenecks with their shortcut on
    /// `cv1`'s output, `cv3` (1×1) on the bottlenecks' output and `cv2`'s.
    C3k { cv1: &'a PackedConv, cv2: &'a PackedConv, cv3: &'a PackedConv, m: Vec<(&'a PackedConv, &'a PackedConv)> },
}

impl Inner<'_> {
    /// Run on one image `x` of `h × w`, writing the output into `out`.
    fn run_into(&self, x: &[f32], (h, w): (usize, usize), out: &mut [f32]) -> Result<()> {
        match self {
            Inner::Bottleneck(a, b, shortcut) => {
                let mid = a.run(x, 1, h, w, None)?;
                b.run_into(&mid, 1, h, w, shortcut.then_some(x), out)
            }
            Inner::C3k { cv1, cv2, cv3, m } => {
                let half = cv1.out_channels() * h * w;
                let mut cat = vec![0.0; 2 * half];
                let (first, second) = cat.split_at_mut(half);
                let mut y = cv1.run(x, 1, h, w, None)?;
                // The last bottleneck writes straight into the first half of `cv3`'s input.
                for (i, (a, b)) in m.iter().enumerate() {
                    let mid = a.run(&y, 1, h, w, None)?;
                    if i + 1 == m.len() {
                        b.run_into(&mid, 1, h, w, Some(&y), first)?;
                    } else {
                        y = b.run(&mid, 1, h, w, Some(&y))?;
                    }
                }
                if m.is_empty() {
                    first.copy_from_slice(&y);
                }
                cv2.run_into(x, 1, h, w, None, second)?;
                cv3.run_into(&cat, 1, h, w, None, out)
            }
        }
    }
}

impl C2fConvs<'_> {
    /// Run on `batch` NCHW images `x` of `h × w`; returns `cv2`'s NCHW output.
    pub fn run(&self, x: &[f32], batch: usize, (h, w): (usize, usize)) -> Result<Vec<f32>> {
        let c = self.cv1.out_channels() / 2;
        let parts = 2 + self.blocks.len();
        if self.cv2.in_channels() != parts * c || x.len() != batch * self.cv1.in_channels() * h * w {
            return Err(Error::Internal(format!("{self:?} cannot run {batch} images of {h}x{w}")));
        }
        let image = self.cv1.in_channels() * h * w;
        let mut cat = vec![0.0; parts * c * h * w];
        if batch == 1 {
            return self.image(x, (h, w), &mut cat);
        }
        let mut out = Vec::with_capacity(batch * self.cv2.out_channels() * h * w);
        for x in x.chunks_exact(image) {
            out.extend(self.image(x, (h, w), &mut cat)?);
        }
        Ok(out)
    }

    /// One image, through `cat` (`(2 + n) · c` planes, all overwritten).
    fn image(&self, x: &[f32], (h, w): (usize, usize), cat: &mut [f32]) -> Result<Vec<f32>> {
        let plane = self.cv1.out_channels() / 2 * h * w;
        self.cv1.run_into(x, 1, h, w, None, &mut cat[..2 * plane])?;
        for (i, block) in self.blocks.iter().enumerate() {
            // The block reads the last `c` channels written so far and writes the next `c`.
            let (done, rest) = cat.split_at_mut((2 + i) * plane);
            block.run_into(&done[(1 + i) * plane..], (h, w), &mut rest[..plane])?;
        }
        self.cv2.run(cat, 1, h, w, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::cpu::Activation;

    fn conv(cin: usize, cout: usize, k: usize, seed: usize) -> PackedConv {
        let value = |i: usize| (((i + seed) * 7919 % 1000) as f32 / 1000.0 - 0.5) * 0.3;
        let weight: Vec<f32> = (0..cout * cin * k * k).map(value).collect();
        let bias: Vec<f32> = (0..cout).map(|i| value(i + 17)).collect();
        PackedConv::new(&weight, &bias, [cout, cin, k, k], 1, Activation::Silu).unwrap()
    }

    /// C2f spelt out: cv1, split, the bottlenecks on the last half, cat, cv2.
    fn by_parts(convs: &C2fConvs<'_>, x: &[f32], (h, w): (usize, usize)) -> Vec<f32> {
        let y = convs.cv1.run(x, 1, h, w, None).unwrap();
        let plane = y.len() / 2;
        let mut parts = vec![y[..plane].to_vec(), y[plane..].to_vec()];
        for block in &convs.blocks {
            let Inner::Bottleneck(a, b, shortcut) = block else { unreachable!("bottlenecks only here") };
            let input = parts.last().unwrap().clone();
            let mid = a.run(&input, 1, h, w, None).unwrap();
            parts.push(b.run(&mid, 1, h, w, shortcut.then_some(&input[..])).unwrap());
        }
        convs.cv2.run(&parts.concat(), 1, h, w, None).unwrap()
    }

    #[test]
    fn the_block_on_one_buffer_equals_split_and_cat_for_each_image() {
        let (c1, c, c2, (h, w)) = (6, 4, 8, (5, 7));
        let (cv1, cv2) = (conv(c1, 2 * c, 1, 1), conv(4 * c, c2, 1, 2));
        let inner: Vec<_> = (0..4).map(|i| conv(c, c, 3, 10 + i)).collect();
        let convs = C2fConvs {
            cv1: &cv1,
            blocks: vec![Inner::Bottleneck(&inner[0], &inner[1], true), Inner::Bottleneck(&inner[2], &inner[3], false)],
            cv2: &cv2,
        };
        let image = c1 * h * w;
        let x: Vec<f32> = (0..2 * image).map(|i| ((i * 31) % 97) as f32 / 97.0).collect();
        let got = convs.run(&x, 2, (h, w)).unwrap();
        let want = [by_parts(&convs, &x[..image], (h, w)), by_parts(&convs, &x[image..], (h, w))].concat();
        assert_eq!(got, want);
        assert_eq!(convs.run(&x[..image], 1, (h, w)).unwrap(), want[..want.len() / 2]);
        let wrong = C2fConvs { cv1: &cv1, blocks: vec![Inner::Bottleneck(&inner[0], &inner[1], true)], cv2: &cv2 };
        assert!(wrong.run(&x, 2, (h, w)).is_err(), "cv2 takes 4c channels, one block gives 3c");
    }
}
