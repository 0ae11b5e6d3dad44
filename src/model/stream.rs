//! [`StemStream`]: the first layers of a forward pass run a band of rows at a time, while the
//! rest of the image is still on its way. A window's input rows come in as its tiles arrive,
//! top to bottom; each of the network's first convolutions ([`Yolo::streamable_layers`]: the
//! stride-2 stem, about a tenth of YOLOv8n's time at 1024 px) computes every output row whose
//! input rows are all in, and the next layer follows it. Once the last input row is in, the
//! stem finishes and [`Yolo::forward_from`] runs the rest of the network on its output.
//!
//! Every value is the one the whole pass computes ([`crate::model::cpu::PackedConv::run_rows`]
//! sums each pixel in the same order however the rows are cut), so the result does not depend
//! on how the rows arrived.

use std::ops::Range;
use std::sync::Arc;

use super::Yolo;
use super::cpu::flex;
use crate::{Error, Result};
use burn::prelude::*;

/// Multiply-adds of one [`StemStream::step`] (at least one output row): 1 to 2 ms on one
/// thread, short enough for the single-threaded worker to read its tiles in between.
const WORK_PER_STEP: usize = 16 << 20;

/// One image's stem, run as its rows arrive (see the module).
#[derive(Debug)]
pub struct StemStream {
    model: Arc<Yolo>,
    /// `[channels, height, width]` of the input (stage 0) and of each streamed layer's output.
    shapes: Vec<[usize; 3]>,
    /// The values of each stage, NCHW with batch 1: allocated when its first rows come (an
    /// aborted run that got no rows allocates nothing).
    stages: Vec<Vec<f32>>,
    /// Rows of each stage computed (for the input: put in), from the top.
    rows: Vec<usize>,
}

/// The stem's output, and where the network goes on from.
#[derive(Debug)]
pub struct StemOutput {
    /// The first layer still to run.
    pub next_layer: usize,
    /// The last streamed layer's output, `[1, C, H, W]`.
    pub output: Tensor<4>,
}

impl StemStream {
    /// The stem of `model` for an input of `[3, h, w]`, or `None` where it has no layer that
    /// can run by bands (WebGPU, or an input too small to be worth it).
    pub fn new(model: Arc<Yolo>, [h, w]: [usize; 2]) -> Result<Option<Self>> {
        let layers = model.streamable_layers();
        if layers == 0 || h == 0 || w == 0 {
            return Ok(None);
        }
        let mut shapes = vec![[3, h, w]];
        for i in 0..layers {
            let conv = model.band_conv(i).ok_or_else(|| Error::Internal(format!("layer {i} runs whole")))?;
            let [c, h, w] = shapes[i];
            if conv.in_channels() != c {
                return Err(Error::Internal(format!("layer {i} takes {} channels, not {c}", conv.in_channels())));
            }
            let [ho, wo] = conv.output_hw(h, w)?;
            shapes.push([conv.out_channels(), ho, wo]);
        }
        let stages = vec![Vec::new(); shapes.len()];
        Ok(Some(StemStream { model, rows: vec![0; shapes.len()], shapes, stages }))
    }

    /// `[height, width]` of the input.
    pub fn input_hw(&self) -> [usize; 2] {
        [self.shapes[0][1], self.shapes[0][2]]
    }

    /// Rows of the input put in so far.
    pub fn input_rows(&self) -> usize {
        self.rows[0]
    }

    /// Put in the next input rows, `values` being `[3, n, width]` (each channel's `n` rows, one
    /// after the other), `n` = `values.len() / (3 × width)`. Rows come in order, each once.
    pub fn put_rows(&mut self, values: &[f32]) -> Result<()> {
        let [c, h, w] = self.shapes[0];
        let n = values.len() / (c * w);
        if values.len() != c * n * w || self.rows[0] + n > h {
            return Err(Error::Internal(format!(
                "{} input values after {} of {h} rows of {c}x{w}",
                values.len(),
                self.rows[0]
            )));
        }
        let first = self.rows[0];
        self.allocate(0);
        for (plane, rows) in self.stages[0].chunks_exact_mut(h * w).zip(values.chunks_exact(n * w)) {
            plane[first * w..(first + n) * w].copy_from_slice(rows);
        }
        self.rows[0] += n;
        Ok(())
    }

    /// Stage `i`'s values, zeros, if they are not allocated yet.
    fn allocate(&mut self, i: usize) {
        if self.stages[i].is_empty() {
            let [c, h, w] = self.shapes[i];
            self.stages[i] = vec![0.0; c * h * w];
        }
    }

    /// Whether every input row is in.
    pub fn input_complete(&self) -> bool {
        self.rows[0] == self.shapes[0][1]
    }

    /// The rows layer `i` can compute next: those whose input rows are all in.
    fn ready(&self, i: usize) -> Option<Range<usize>> {
        let conv = self.model.band_conv(i)?;
        let ([_, h_in, _], [_, ho, _]) = (self.shapes[i], self.shapes[i + 1]);
        let (have, pad, stride) = (self.rows[i], conv.kernel() / 2, conv.stride());
        // Output row r reads input rows up to stride·r + pad (or the image's last).
        let end = match have {
            _ if have == h_in => ho,
            _ if have <= pad => 0,
            _ => ((have - 1 - pad) / stride + 1).min(ho),
        };
        let start = self.rows[i + 1];
        (start < end).then_some(start..end)
    }

    /// Whether [`StemStream::step`] has work.
    pub fn can_step(&self) -> bool {
        (0..self.shapes.len() - 1).any(|i| self.ready(i).is_some())
    }

    /// Compute the next band: the earliest layer with rows ready, about [`WORK_PER_STEP`] of
    /// them. Returns whether there was one.
    pub fn step(&mut self) -> Result<bool> {
        self.band(WORK_PER_STEP)
    }

    /// The earliest layer's ready rows, as many as `work` multiply-adds allow (one at least).
    fn band(&mut self, work: usize) -> Result<bool> {
        let Some((i, rows)) = (0..self.shapes.len() - 1).find_map(|i| self.ready(i).map(|r| (i, r))) else {
            return Ok(false);
        };
        self.allocate(i + 1);
        let conv = self.model.band_conv(i).ok_or_else(|| Error::Internal(format!("layer {i} runs whole")))?;
        let [_, h, w] = self.shapes[i];
        let most = (work / conv.row_work(w).max(1)).max(1);
        let rows = rows.start..rows.end.min(rows.start + most);
        let (before, after) = self.stages.split_at_mut(i + 1);
        conv.run_rows(&before[i], (h, w), rows.clone(), &mut after[0])?;
        self.rows[i + 1] = rows.end;
        if rows.end == self.shapes[i + 1][1] {
            // Layer i is done: nothing reads its input again.
            self.stages[i] = Vec::new();
        }
        Ok(true)
    }

    /// Every layer's remaining rows, once the whole input is in; then the stem's output.
    pub fn finish(mut self) -> Result<StemOutput> {
        if !self.input_complete() {
            return Err(Error::Internal(format!("the stem finished with {} of its input rows", self.rows[0])));
        }
        while self.band(usize::MAX)? {}
        let [c, h, w] = *self.shapes.last().unwrap_or(&[0; 3]);
        let next_layer = self.shapes.len() - 1;
        let output = self.stages.pop().unwrap_or_default();
        Ok(StemOutput { next_layer, output: flex::from_vec(output, [1, c, h, w]) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::yolo::tests::synthetic;
    use crate::model::{Family, Scale, Task, YoloConfig};

    /// The stem run band by band, in any cut of the input's rows, then the rest of the
    /// network, gives exactly the whole pass's output.
    #[test]
    fn a_streamed_stem_gives_the_whole_pass_exactly() {
        let device = Device::flex();
        for family in [Family::Yolov8, Family::Yolo11] {
            let config = YoloConfig::standard(family, Scale::N, Task::Obb, 15);
            let net = Arc::new(Yolo::from_weights(&config, synthetic(&config), &device).unwrap());
            assert_eq!(net.streamable_layers(), 2, "{family:?}: the two stride-2 convolutions");
            let (h, w) = (160, 96);
            let values: Vec<f32> = (0..3 * h * w).map(|i| ((i * 7919) % 1000) as f32 / 1000.0).collect();
            let x = Tensor::<4>::from_data(TensorData::new(values.clone(), [1, 3, h, w]), &device);
            let whole = net.forward(x).unwrap().into_data().try_to_vec::<f32>().unwrap();
            for cuts in [vec![h], vec![1, 2, 3, 64, 90, h], vec![37, 38, 100, 159, h], (1..=h).collect()] {
                let mut stem = StemStream::new(net.clone(), [h, w]).unwrap().unwrap();
                let mut from = 0;
                for &to in &cuts {
                    let rows: Vec<f32> =
                        (0..3).flat_map(|c| &values[(c * h + from) * w..(c * h + to) * w]).copied().collect();
                    stem.put_rows(&rows).unwrap();
                    from = to;
                    // Only rows whose input is all in: a step never reads a row not yet put.
                    while stem.step().unwrap() {}
                    assert!(!stem.can_step());
                }
                let out = stem.finish().unwrap();
                assert_eq!(out.next_layer, 2);
                let streamed =
                    net.forward_from(out.next_layer, out.output).unwrap().into_data().try_to_vec::<f32>().unwrap();
                assert!(streamed == whole, "{family:?}, cuts {cuts:?}: the streamed pass differs");
            }
        }
    }

    /// A step computes only output rows whose input rows are in: with the input's first 9
    /// rows, a 3×3 stride-2 convolution can compute its first 4 (row 3 reads input rows 5..=7;
    /// row 4 would read row 9).
    #[test]
    fn a_band_waits_for_the_rows_it_reads() {
        let device = Device::flex();
        let config = YoloConfig::standard(Family::Yolov8, Scale::N, Task::Obb, 15);
        let net = Arc::new(Yolo::from_weights(&config, synthetic(&config), &device).unwrap());
        let mut stem = StemStream::new(net, [64, 32]).unwrap().unwrap();
        stem.put_rows(&vec![0.5; 3 * 9 * 32]).unwrap();
        assert_eq!(stem.ready(0), Some(0..4));
        while stem.step().unwrap() {}
        // Layer 1 reads layer 0's rows up to 2·r + 1 < 4: its first 2.
        assert_eq!(stem.rows, vec![9, 4, 2]);
        assert!(stem.put_rows(&vec![0.5; 3 * 60 * 32]).is_err(), "more rows than the input has");
        assert!(stem.put_rows(&[0.5; 10]).is_err(), "not whole rows");
        assert!(matches!(
            StemStream::new(Arc::new(Yolo::from_weights(&config, synthetic(&config), &device).unwrap()), [64, 32])
                .unwrap()
                .unwrap()
                .finish(),
            Err(Error::Internal(_))
        ));
    }
}
