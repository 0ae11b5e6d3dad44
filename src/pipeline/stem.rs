//! A chunk's first model window begins while its tiles arrive: the raster's rows, as they
//! become whole ([`Stitcher::watch`](crate::imagery::Stitcher::watch)), go into the window's
//! input, and the network's first layers run on them band by band ([`StemStream`]) between
//! the tiles' arrivals. When the last tile is in, only the stem's last band is left before
//! the rest of the pass ([`crate::detect::Engine::detect_windows`] takes it as a
//! [`WindowStem`]). For a run's first chunk on a single worker with the single-threaded
//! engine, which loads while nothing else runs: a chunk loaded while the one before runs
//! through the model would only take that one's threads, and a pool's worker loads its next
//! chunk beside the one it runs, with the other workers on the same cores.
//!
//! A band runs on the caller's thread (the worker's) and yields to its event loop after each,
//! so tiles are read between bands. (The threaded engine ran each band on one thread of its
//! pool in an A/B: the wait did not shorten, and the bands, slower on one thread than the
//! whole stem on all of them, made `inference` longer; so it runs no stem, see
//! [`super::run`].)

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::ops::Range;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use crate::detect::preprocess::{self, Window};
use crate::detect::{Engine, WindowStem};
use crate::host::Hooks;
use crate::imagery::RowWatch;
use crate::model::StemStream;
use crate::{Error, Result};

/// What the raster's watch hands the stem: the window's input rows made so far, not yet put
/// in, and whether the watch is gone (the raster finished, or its loading failed).
#[derive(Debug, Default)]
struct Feed {
    rows: VecDeque<Vec<f32>>,
    error: Option<Error>,
    gone: bool,
    waker: Option<Waker>,
}

impl Feed {
    fn wake(&mut self) {
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }
}

/// The watch's end of the feed: dropped with the raster's stitcher, it tells the stem.
struct Sender(Rc<RefCell<Feed>>);

impl Drop for Sender {
    fn drop(&mut self) {
        let mut feed = self.0.borrow_mut();
        feed.gone = true;
        feed.wake();
    }
}

/// A window's stem, run as its raster's rows arrive: give [`StemFeed::watch`] to the raster's
/// loading and run [`StemFeed::run`] beside it.
#[derive(Debug)]
pub struct StemFeed {
    feed: Rc<RefCell<Feed>>,
    stem: StemStream,
    /// The window, in area pixels.
    window: Window,
}

impl StemFeed {
    /// The stem of `window` (area pixels; `local` is the same window in the pixels of its
    /// chunk's raster, which is `raster_height` rows tall), or `None` where the engine runs
    /// none (WebGPU). Also the raster's watch that feeds it.
    pub fn new(engine: &Engine, window: Window, local: Window, raster_height: u32) -> Result<Option<(Self, RowWatch)>> {
        let Some(stem) = engine.stem_stream(local.input_hw())? else { return Ok(None) };
        let feed = Rc::new(RefCell::new(Feed::default()));
        let sender = Sender(feed.clone());
        let input_rows = local.input_hw()[0];
        let mut next = 0;
        let watch: RowWatch = Box::new(move |rgb: &[u8], width: u32, whole: Range<u32>| {
            // The window's rows below its last raster row are padding: in as soon as the rest.
            let shown = (whole.end.saturating_sub(local.y)).min(local.height) as usize;
            let upto = if shown == local.height as usize || whole.end >= raster_height { input_rows } else { shown };
            if upto <= next {
                return;
            }
            let mut feed = sender.0.borrow_mut();
            match preprocess::input_rows(rgb, width, &local, next..upto) {
                Ok(rows) => feed.rows.push_back(rows),
                Err(e) => feed.error = Some(e),
            }
            next = upto;
            feed.wake();
        });
        Ok(Some((StemFeed { feed, stem, window }, watch)))
    }

    /// Run the stem on the rows as they come, until the watch is gone; then its last bands.
    /// `None` if the raster did not finish (its loading failed or was cancelled: the caller
    /// has that error) or the run was cancelled.
    pub async fn run<H: Hooks>(self, hooks: &H) -> Result<Option<WindowStem>> {
        let StemFeed { feed, mut stem, window } = self;
        let (mut ms, mut ready) = (0.0, false);
        loop {
            let (rows, gone) = {
                let mut f = feed.borrow_mut();
                if let Some(e) = f.error.take() {
                    return Err(e);
                }
                (std::mem::take(&mut f.rows), f.gone)
            };
            for rows in rows {
                stem.put_rows(&rows)?;
            }
            if hooks.is_cancelled() {
                return Ok(None);
            }
            if gone {
                break;
            }
            if !stem.can_step() {
                Arrival(&feed).await;
                continue;
            }
            // Not before the first rows: by then the tiles' requests are on their way (the
            // single-threaded engine's warm-up, which this waits for, starts after them).
            if !ready {
                hooks.model_ready().await?;
                ready = true;
            }
            let t0 = hooks.now_ms();
            stem.step()?;
            ms += hooks.now_ms() - t0;
            // Let the worker's event loop read the tiles that arrived meanwhile.
            hooks.yield_now().await;
        }
        if !stem.input_complete() {
            return Ok(None);
        }
        if !ready {
            hooks.model_ready().await?;
        }
        let t0 = hooks.now_ms();
        let output = stem.finish()?;
        Ok(Some(WindowStem { window, output, ms: ms + hooks.now_ms() - t0 }))
    }
}

/// Ready once the feed has rows or an error, or its watch is gone.
struct Arrival<'a>(&'a RefCell<Feed>);

impl Future for Arrival<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut feed = self.0.borrow_mut();
        if !feed.rows.is_empty() || feed.error.is_some() || feed.gone {
            return Poll::Ready(());
        }
        feed.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}
