//! A loaded model on a device, and detection over a whole raster.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use burn::prelude::*;

use super::nms::{self, Candidate, NmsParams};
use super::preprocess::{self, Window};
use super::topk;
use super::{Backend, Compute};
use crate::host::{Hooks, Quiet, Stage};
use crate::model::cpu::parallel;
use crate::model::{ModelEntry, Postprocess, StemOutput, StemStream, VerifiedWeights, Weights, Yolo, YoloConfig};
use crate::{Error, Result};

/// Detections closer than this to a window side that lies inside the raster are left to
/// the neighbouring window, which sees the object whole.
const SEAM_MARGIN_PX: f64 = 2.0;

/// Milliseconds spent per model stage.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ModelTimings {
    pub preprocess: f64,
    pub inference: f64,
    pub postprocess: f64,
}

/// A network ready to run. On WebGPU it keeps its weights: if the device is lost (a GPU
/// reset, a driver crash, the browser reclaiming it), the window that failed and every one
/// after it run on the CPU instead ([`Engine::fallback_reason`] says why).
pub struct Engine {
    entry: ModelEntry,
    config: YoloConfig,
    /// The network on its device; replaced by a CPU one when a WebGPU device is lost. Calls
    /// hold an `Rc` of the one they started with, so a swap never disturbs them.
    net: RefCell<Rc<Net>>,
    /// The weights, kept on WebGPU only, to rebuild the network on the CPU.
    spare: Option<VerifiedWeights>,
    /// Why the network left WebGPU for the CPU, once it did.
    fell_back: RefCell<Option<String>>,
}

/// The network on one device.
struct Net {
    /// Shared with the pool's thread that runs a forward pass ([`parallel::off_thread`]).
    model: Arc<Yolo>,
    device: Device,
    backend: Backend,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("model", &self.entry.id).field("backend", &self.backend()).finish()
    }
}

/// Side of the synthetic image of [`Engine::self_test`].
const SELF_TEST_PX: u32 = 96;

/// Side of the blank raster [`Engine::warm_up`] runs on the CPU backend.
const CPU_WARM_UP_PX: u32 = 64;

/// Copy a tensor back to the host (asynchronously: WebGPU cannot block).
async fn read_back<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>> {
    let fail =
        |e: &dyn std::fmt::Display| Error::Inference(format!("reading the result back from the device failed: {e}"));
    tensor.into_data_async().await.map_err(|e| fail(&e))?.try_into_vec::<f32>().map_err(|e| fail(&format!("{e:?}")))
}

/// Whether `device` still computes: 1 + 2 + 3 on it, read back.
pub async fn probe(device: &Device) -> Result<()> {
    let sum = Tensor::<1>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0], [3]), device).sum();
    let value = read_back(sum).await?;
    if value.first() == Some(&6.0) {
        Ok(())
    } else {
        Err(Error::Inference(format!("the device computed 1 + 2 + 3 = {value:?}")))
    }
}

/// The innermost cause of an error whose text chains them (`Caused by:` lines, as cubecl's
/// errors do), without backtrace lines: `Destroyed: Device was destroyed.`.
fn last_cause(error: &Error) -> String {
    let text = error.to_string();
    let cause =
        text.lines().map(str::trim).rfind(|l| !l.is_empty() && !l.starts_with("Caused by") && !l.contains("acktrace"));
    cause.unwrap_or(&text).to_owned()
}

impl Engine {
    /// Parse weights verified against the manifest entry (see [`ModelEntry::verify`]) and
    /// build the network on `compute`'s device.
    pub fn load(entry: ModelEntry, weights: &VerifiedWeights, compute: Compute) -> Result<Self> {
        let Compute { backend, device } = compute;
        entry.validate()?;
        if !weights.belong_to(&entry) {
            return Err(Error::Internal(format!(
                "the weights given for `{}` were verified for another entry",
                entry.id
            )));
        }
        let config = entry.config();
        let model = Yolo::from_weights(&config, Weights::from_safetensors(weights.bytes())?, &device)?;
        let spare = (backend == Backend::Webgpu).then(|| weights.clone());
        let net = RefCell::new(Rc::new(Net { model: Arc::new(model), device, backend }));
        Ok(Self { entry, config, net, spare, fell_back: RefCell::default() })
    }

    /// The manifest entry this engine runs.
    pub fn entry(&self) -> &ModelEntry {
        &self.entry
    }

    /// The backend the network runs on now: the CPU after a lost WebGPU device.
    pub fn backend(&self) -> Backend {
        self.net().backend
    }

    /// Why the network runs on the CPU although the engine was loaded on WebGPU (its device
    /// was lost), once that happened.
    pub fn fallback_reason(&self) -> Option<String> {
        self.fell_back.borrow().clone()
    }

    fn net(&self) -> Rc<Net> {
        self.net.borrow().clone()
    }

    fn input(net: &Net, chw: Vec<f32>, hw: [usize; 2]) -> Result<Tensor<4>> {
        if chw.len() != 3 * hw[0] * hw[1] {
            return Err(Error::Internal(format!("input holds {} values, not 3x{}x{}", chw.len(), hw[0], hw[1])));
        }
        let shape = [1, 3, hw[0], hw[1]];
        Ok(match net.backend {
            // Straight onto burn's CPU backend: burn's generic `from_data` (a dispatch over every
            // backend and element type, 233 KB of wasm) would be compiled at the first detect()
            // of every page load only to move this vector (21 ms of the worker's time).
            Backend::Cpu => crate::model::cpu::flex::from_vec(chw, shape),
            Backend::Webgpu => Tensor::from_data(TensorData::new(chw, shape), &net.device),
        })
    }

    /// One forward pass over a `[3, H, W]` input; returns the decoded output `[rows, N]`
    /// (ultralytics' export layout) on the host. On WebGPU, a failure after which the device
    /// no longer computes (it was lost) moves the network to the CPU, where this input runs
    /// again; any other failure is returned.
    /// It keeps a copy of its input on WebGPU for that; [`Engine::detect_windows`] rebuilds a
    /// window's input from the raster instead.
    pub async fn infer(&self, chw: Vec<f32>, hw: [usize; 2]) -> Result<Vec<f32>> {
        let again = self.spare.is_some().then(|| chw.clone());
        let again = || again.clone().ok_or_else(|| Error::Internal("no input kept to run again".into()));
        self.infer_or_redo(chw, again, hw, || std::future::ready(Ok(()))).await
    }

    /// [`Engine::infer`], with `again()` giving the input anew if it must run again on the CPU,
    /// and `pause()` awaited between layers where the pass runs on the caller's thread
    /// ([`Engine::infer_on`]).
    async fn infer_or_redo<F: Future<Output = Result<()>>>(
        &self,
        chw: Vec<f32>,
        again: impl Fn() -> Result<Vec<f32>>,
        hw: [usize; 2],
        mut pause: impl FnMut() -> F,
    ) -> Result<Vec<f32>> {
        let net = self.net();
        match self.infer_on(&net, (0, Self::input(&net, chw, hw)?), hw, &mut pause).await {
            Err(error) if net.backend == Backend::Webgpu && self.spare.is_some() => {
                let cpu = self.after_failure(&net, error).await?;
                self.infer_on(&cpu, (0, Self::input(&cpu, again()?, hw)?), hw, &mut pause).await
            }
            outcome => outcome,
        }
    }

    /// The stem of a pass over an input of `hw`, to run band by band as the input's rows
    /// arrive ([`StemStream`]), where the network runs on the CPU; `None` on WebGPU.
    pub fn stem_stream(&self, hw: [usize; 2]) -> Result<Option<StemStream>> {
        let net = self.net();
        match net.backend {
            Backend::Cpu => StemStream::new(net.model.clone(), hw),
            Backend::Webgpu => Ok(None),
        }
    }

    /// The rest of a pass whose stem ran already ([`Engine::stem_stream`]), as
    /// [`Engine::infer_or_redo`] runs a whole one (on the CPU, where a stem runs: nothing to
    /// redo).
    async fn infer_after_stem<F: Future<Output = Result<()>>>(
        &self,
        stem: StemOutput,
        hw: [usize; 2],
        mut pause: impl FnMut() -> F,
    ) -> Result<Vec<f32>> {
        let net = self.net();
        if net.backend != Backend::Cpu {
            return Err(Error::Internal("a stem ran for a network that is not on the CPU".into()));
        }
        self.infer_on(&net, (stem.next_layer, stem.output), hw, &mut pause).await
    }

    /// One forward pass and its box decoding, read back. On a thread of the pool where there is
    /// one; on the CPU of the single-threaded wasm, on the worker's own thread, layer by layer,
    /// awaiting `pause()` after each, which gives the worker's event loop a turn now and then
    /// ([`Engine::detect_windows`]: every [`PAUSE_EVERY_MS`]). The loop then reads the tiles that
    /// arrived meanwhile (the next chunk's, loaded ahead), decodes them and sends their next
    /// requests every few tens of milliseconds rather than once a window, and an abort stops the
    /// pass as soon.
    /// `first` is the layer to start from and `input` the output of the one before it (the
    /// image for layer 0); `hw` is the image's size.
    async fn infer_on<F: Future<Output = Result<()>>>(
        &self,
        net: &Net,
        (first, input): (usize, Tensor<4>),
        hw: [usize; 2],
        pause: &mut impl FnMut() -> F,
    ) -> Result<Vec<f32>> {
        let (config, model) = (self.config.clone(), net.model.clone()); // for the pool's thread
        let decoded = if !parallel::ON_POOL && net.backend == Backend::Cpu {
            Yolo::decode(&config, model.forward_pausing(first, input, pause).await?, hw)?
        } else {
            parallel::off_thread(move || Yolo::decode(&config, model.forward_from(first, input)?, hw)).await??
        };
        read_back(decoded).await
    }

    /// After `net` failed with `error`: the network to run on instead, if `net`'s WebGPU
    /// device no longer computes (the CPU one, built once from the kept weights), else
    /// `error`.
    async fn after_failure(&self, net: &Net, error: Error) -> Result<Rc<Net>> {
        let current = self.net();
        if current.backend == Backend::Cpu {
            return Ok(current); // another call already moved to the CPU
        }
        let Err(lost) = probe(&net.device).await else { return Err(error) };
        let Some(weights) = &self.spare else { return Err(error) };
        let device = Device::flex();
        let model = Yolo::from_weights(&self.config, Weights::from_safetensors(weights.bytes())?, &device)?;
        let cpu = Rc::new(Net { model: Arc::new(model), device, backend: Backend::Cpu });
        *self.net.borrow_mut() = cpu.clone();
        *self.fell_back.borrow_mut() =
            Some(format!("the WebGPU device was lost ({}); the network runs on the CPU since", last_cause(&lost)));
        Ok(cpu)
    }

    /// The final boxes of one window's decoded output `[rows, n]`: NMS, or top-k for the
    /// one-to-one branch of an end-to-end head.
    pub fn select(&self, decoded: &[f32], n: usize, params: &NmsParams) -> Vec<Candidate> {
        let (nc, task) = (self.config.num_classes, self.config.task);
        match self.config.postprocess {
            Postprocess::Nms => nms::postprocess(decoded, n, nc, task, params),
            Postprocess::Topk => topk::postprocess(decoded, n, nc, task, params),
        }
    }

    /// Like [`Engine::infer`], also returning the raw head output `[raw rows, N]` (no CPU
    /// fallback: the parity tests compare one backend with a reference).
    pub async fn infer_with_raw(&self, chw: Vec<f32>, hw: [usize; 2]) -> Result<(Vec<f32>, Vec<f32>)> {
        let net = self.net();
        let raw = net.model.forward(Self::input(&net, chw, hw)?)?;
        let decoded = Yolo::decode(&self.config, raw.clone(), hw)?;
        Ok((read_back(raw).await?, read_back(decoded).await?))
    }

    /// Run the per-window path (preprocess, forward, box decoding, read-back, NMS) once on a
    /// blank raster, so that the first real detection does not pay for first-use costs:
    /// on WebGPU the shaders compile, at the model's input size since kernels are
    /// specialised to shapes; on the CPU a small raster is enough for the browser's wasm
    /// JIT to optimise the hot functions; there every anchor of that raster passes a zero
    /// confidence threshold, so that NMS and the box regularisation run too (a blank raster
    /// scores nothing above a real threshold). Returns its milliseconds.
    pub async fn warm_up<H: Hooks>(&self, hooks: &H) -> Result<f64> {
        let start = hooks.now_ms();
        // (side, confidence): at the input size NMS over every anchor would cost more than it saves.
        let (side, confidence) = match self.backend() {
            Backend::Webgpu => (self.entry.input_size, 0.25),
            Backend::Cpu => (CPU_WARM_UP_PX.min(self.entry.input_size), 0.0),
        };
        let blank = vec![0u8; side as usize * side as usize * 3];
        let params = NmsParams { confidence, iou: 0.45, max_detections: 300, class_mask: None };
        self.detect_raster(&blank, side, side, &params, 0, &Quiet(hooks)).await?;
        Ok(hooks.now_ms() - start)
    }

    /// Check that the network computes sanely here: two forward passes over a small synthetic
    /// image (gradients crossed by a bright diagonal bar, so every layer sees varied values)
    /// must give the expected number of outputs, all finite, and the same both times (a GPU
    /// that corrupts memory, or a backend that lost its device, fails one of these). Returns
    /// its milliseconds.
    pub async fn self_test<H: Hooks>(&self, hooks: &H) -> Result<f64> {
        let start = hooks.now_ms();
        let side = SELF_TEST_PX as usize;
        let rgb: Vec<u8> = (0..side * side)
            .flat_map(|i| {
                let (x, y) = (i % side, i / side);
                let bar = x.abs_diff(y) < 6;
                let v =
                    |a: usize, b: usize| if bar { 240 } else { ((a * 255) / side / 2 + (b * 255) / side / 2) as u8 };
                [v(x, y), v(y, side - 1 - x), v(side - 1 - x, side - 1 - y)]
            })
            .collect();
        let window = Window { x: 0, y: 0, width: SELF_TEST_PX, height: SELF_TEST_PX };
        let hw = window.input_hw();
        let first = self.infer(preprocess::to_chw(&rgb, SELF_TEST_PX, &window)?, hw).await?;
        let second = self.infer(preprocess::to_chw(&rgb, SELF_TEST_PX, &window)?, hw).await?;
        let anchors = crate::model::config::anchor_count(hw);
        let expected = anchors * self.config.decoded_rows();
        if first.len() != expected {
            return Err(Error::Inference(format!(
                "the self-test gave {} outputs, not {expected} ({anchors} anchors x {} rows)",
                first.len(),
                self.config.decoded_rows()
            )));
        }
        if let Some(i) = first.iter().position(|v| !v.is_finite()) {
            return Err(Error::Inference(format!("the self-test's output {i} is {}", first[i])));
        }
        if first != second {
            return Err(Error::Inference("the self-test gave different outputs for the same input".into()));
        }
        Ok(hooks.now_ms() - start)
    }

    /// Detect over a whole RGB raster (`width * height * 3` bytes): windows of the model's
    /// input size, NMS within each, boxes cut by an inner window side dropped, NMS across
    /// windows (at most `max_detections` in all). Boxes come back in raster pixels, best
    /// first.
    pub async fn detect_raster<H: Hooks>(
        &self,
        rgb: &[u8],
        width: u32,
        height: u32,
        params: &NmsParams,
        overlap: u32,
        hooks: &H,
    ) -> Result<(Vec<Candidate>, ModelTimings)> {
        let windows: Vec<(usize, Window)> =
            preprocess::plan_windows(width, height, self.entry.input_size, overlap)?.into_iter().enumerate().collect();
        let place = RasterPlace { offset: (0, 0), area: (width, height) };
        let (mut all, mut timings) =
            self.detect_windows(rgb, (width, height), place, &windows, params, hooks, (0, windows.len()), None).await?;
        let t = hooks.now_ms();
        nms::sort_by_score(&mut all);
        if windows.len() > 1 {
            all = nms::nms(all, params.iou, params.max_detections);
        }
        timings.postprocess += hooks.now_ms() - t;
        Ok((all, timings))
    }

    /// Run `windows` (`(number in the area's plan, window in area pixels)`) over `rgb`, a
    /// `width` x `height` raster lying at `place` in a larger area: NMS within each window
    /// (at most `max_detections`), boxes cut by a window side inside the area dropped (the
    /// neighbouring window sees them whole). Boxes come back in area pixels, unsorted, their
    /// anchors numbered by window so that ties order the same however the area is cut.
    /// `progress` is `(windows done before these, windows in the run)`. `stem` is the first
    /// layers of a window's pass, run as its tiles arrived (where its window is one of these;
    /// otherwise it is not used).
    #[allow(clippy::too_many_arguments)] // two call sites: detect_raster and the area pipeline
    pub async fn detect_windows<H: Hooks>(
        &self,
        rgb: &[u8],
        (width, height): (u32, u32),
        place: RasterPlace,
        windows: &[(usize, Window)],
        params: &NmsParams,
        hooks: &H,
        (done, total): (usize, usize),
        mut stem: Option<WindowStem>,
    ) -> Result<(Vec<Candidate>, ModelTimings)> {
        if rgb.len() != width as usize * height as usize * 3 {
            return Err(Error::Internal(format!("raster {width}x{height} holds {} bytes", rgb.len())));
        }
        hooks.model_ready().await?;
        let mut timings = ModelTimings::default();
        let mut all = Vec::new();
        for (i, &(index, window)) in windows.iter().enumerate() {
            hooks.checkpoint().await?;
            hooks.progress(Stage::Inference, done + i, total);
            let local = window.in_raster_at(place.offset);
            let t0 = hooks.now_ms();
            let hw = local.input_hw();
            let streamed = stem.take_if(|s| s.window == window);
            let chw = match streamed {
                None => preprocess::to_chw(rgb, width, &local)?,
                Some(_) => Vec::new(),
            };
            let t1 = hooks.now_ms();
            let again = || preprocess::to_chw(rgb, width, &local);
            // A turn of the worker's event loop at most every PAUSE_EVERY_MS of the pass; the
            // worker's other work then (a chunk loaded ahead) is not the model's.
            let (paused, last_turn) = (Cell::new(0.0), Cell::new(t1));
            let pause = || async {
                let start = hooks.now_ms();
                if start - last_turn.get() < PAUSE_EVERY_MS {
                    return Ok(());
                }
                let outcome = hooks.checkpoint().await;
                let end = hooks.now_ms();
                paused.set(paused.get() + end - start);
                last_turn.set(end);
                outcome
            };
            let (decoded, stem_ms) = match streamed {
                Some(s) => (self.infer_after_stem(s.output, hw, pause).await?, s.ms),
                None => (self.infer_or_redo(chw, again, hw, pause).await?, 0.0),
            };
            let t2 = hooks.now_ms();
            let n = decoded.len() / self.config.decoded_rows();
            let kept = self.select(&decoded, n, params);
            all.extend(place_in_raster(kept, &window, place.area, index * ANCHORS_PER_WINDOW));
            timings.preprocess += t1 - t0;
            timings.inference += t2 - t1 - paused.get() + stem_ms;
            timings.postprocess += hooks.now_ms() - t2;
        }
        hooks.progress(Stage::Inference, done + windows.len(), total);
        Ok((all, timings))
    }
}

/// The first layers of a window's pass, run band by band while its tiles arrived
/// ([`Engine::stem_stream`]): the window (area pixels), the stem's output, and the
/// milliseconds its bands took (they count as the window's inference).
#[derive(Debug)]
pub struct WindowStem {
    pub window: Window,
    pub output: StemOutput,
    pub ms: f64,
}

/// Where a raster lies in the area it is part of (its top-left pixel there), and the area's
/// size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RasterPlace {
    pub offset: (u32, u32),
    pub area: (u32, u32),
}

/// Least milliseconds of a forward pass between two turns of the worker's event loop, where
/// the pass runs on the worker's thread ([`Engine::infer_on`]): a turn costs about 0.4 ms in
/// the browser, and one a layer cost 2 % of a window with 1 thread.
const PAUSE_EVERY_MS: f64 = 25.0;

/// Anchor numbers per window: more than one window's NMS can keep (`maxDetections` is at most
/// 10,000).
const ANCHORS_PER_WINDOW: usize = 10_000;

/// Shift a window's detections (model pixels) into area pixels: boxes reaching within
/// [`SEAM_MARGIN_PX`] of a window side that lies inside the area are dropped, since the
/// neighbouring window overlaps that side and sees the object whole. `anchor_base` keeps
/// anchor numbers unique across windows (stable order).
pub fn place_in_raster(
    kept: Vec<Candidate>,
    window: &Window,
    (width, height): (u32, u32),
    anchor_base: usize,
) -> impl Iterator<Item = Candidate> {
    let inner = window.interior_sides(width, height);
    let (x0, y0) = (window.x as f64, window.y as f64);
    let edges = [x0, y0, x0 + window.width as f64, y0 + window.height as f64];
    kept.into_iter().enumerate().filter_map(move |(k, mut c)| {
        c.bbox.cx += x0;
        c.bbox.cy += y0;
        c.anchor = anchor_base + k;
        let b = c.bbox.bounds();
        let cut = (inner[0] && b[0] < edges[0] + SEAM_MARGIN_PX)
            || (inner[1] && b[1] < edges[1] + SEAM_MARGIN_PX)
            || (inner[2] && b[2] > edges[2] - SEAM_MARGIN_PX)
            || (inner[3] && b[3] > edges[3] - SEAM_MARGIN_PX);
        (!cut).then_some(c)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::RotatedBox;

    #[test]
    fn the_innermost_cause_of_a_chained_error() {
        let chained = Error::Inference(
            "reading the result back from the device failed: The device is poisoned\nCaused by:\n  The device is \
             poisoned\nCaused by:\n  Destroyed: Device was destroyed.\nBacktrace:\nNo backtrace available"
                .into(),
        );
        assert_eq!(last_cause(&chained), "Destroyed: Device was destroyed.");
        let plain = Error::Inference("out of memory".into());
        assert_eq!(last_cause(&plain), "inference failed: out of memory");
    }

    #[test]
    fn the_probe_passes_on_a_working_device() {
        assert!(futures::executor::block_on(probe(&Device::flex())).is_ok());
    }

    fn at(cx: f64, cy: f64) -> Candidate {
        Candidate { anchor: 0, class_id: 1, score: 0.9, bbox: RotatedBox { cx, cy, w: 20.0, h: 10.0, angle: 0.0 } }
    }

    #[test]
    fn boxes_cut_by_an_inner_window_side_are_left_to_the_neighbour() {
        // The right window of a 1800-wide raster: its left side (x = 776) is inside the raster,
        // its other sides are on the raster border.
        let window = Window { x: 776, y: 0, width: 1024, height: 600 };
        let kept = vec![at(5.0, 300.0), at(500.0, 300.0), at(1019.0, 300.0), at(500.0, 4.0)];
        let placed: Vec<Candidate> = place_in_raster(kept.clone(), &window, (1800, 600), 10).collect();
        // Touching the inner left side: dropped. Touching the raster's right and top border: kept.
        assert_eq!(placed.iter().map(|c| c.bbox.cx).collect::<Vec<_>>(), vec![1276.0, 1795.0, 1276.0]);
        assert_eq!(placed.iter().map(|c| c.anchor).collect::<Vec<_>>(), vec![11, 12, 13]);
        assert_eq!(placed[0].bbox.cy, 300.0);
        // A window that is the whole area keeps everything.
        let whole = Window { x: 0, y: 0, width: 1024, height: 600 };
        assert_eq!(place_in_raster(kept, &whole, (1024, 600), 0).count(), 4);
    }
}
