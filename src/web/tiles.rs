//! Tiles over HTTP (through the worker's [`TileNet`]: caches, shared downloads, per-host
//! limits, PMTiles archives), each decoded as soon as it arrives, while others download, and
//! put straight into the raster. PNG, JPEG and WebP are decoded in Rust
//! ([`crate::imagery::decode`]), on a thread of the pool in the threaded engine; anything else
//! by the browser (`createImageBitmap`, colour-space conversion and alpha premultiplication
//! off so pixel values are exact, drawn onto a canvas of the tile's size and read back). A
//! COG's tiles are byte ranges of the file instead, read through the same gate and scheduler
//! and decoded in Rust ([`crate::imagery::cog::CogSource`]).

use std::cell::Cell;
use std::rc::Rc;

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AbortSignal, Blob, ColorSpaceConversion, ImageBitmap, ImageBitmapOptions, OffscreenCanvas,
    OffscreenCanvasRenderingContext2d, PremultiplyAlpha,
};

use super::encoded::blob_of;
use super::error::describe;
use super::global::Global;
use super::net::{Body, HttpRange, Origin, Request, TileNet, not_an_image};
use super::timer;
use crate::Result;
use crate::host::{Composited, DecodedTile, FetchedTiles, Hooks, Stage, TileProvider};
use crate::imagery::cog::CogSource;
use crate::imagery::decode::decode_image;
use crate::imagery::{ImageGrid, Stitcher};
use crate::model::cpu::parallel;
use crate::tiles::fetch::{FetchPolicy, TileFailure, TileStats, fetch_tiles, fetch_tiles_each};
use crate::tiles::pmtiles::Archive;
use crate::tiles::{TileId, TileSource};

/// Fetches tiles with the scheduler of [`crate::tiles::fetch`], through the worker's
/// [`TileNet`].
#[derive(Debug)]
pub struct HttpTiles<'a> {
    pub global: &'a Global,
    pub policy: &'a FetchPolicy,
    pub signal: Option<&'a AbortSignal>,
    pub net: &'a TileNet,
}

impl HttpTiles<'_> {
    fn request<'s>(&'s self, source: &'s TileSource) -> Request<'s> {
        Request { global: self.global, policy: self.policy, signal: self.signal, source }
    }

    /// The source's COG, opened, for a `{ cog }` source.
    async fn cog(&self, source: &TileSource) -> Result<Option<Rc<CogSource<HttpRange>>>> {
        match source.cog_url() {
            Some(url) => Ok(Some(self.net.cog(self.request(source), url).await?)),
            None => Ok(None),
        }
    }

    /// The source's archive, opened, for a PMTiles source (checked to have `tiles`' zoom).
    async fn archive(&self, source: &TileSource, tiles: &[TileId]) -> Result<Option<Rc<Archive<HttpRange>>>> {
        match (source.pmtiles_url(), tiles.first()) {
            (Some(url), Some(&first)) => Ok(Some(self.net.archive(self.request(source), url, first).await?)),
            _ => Ok(None),
        }
    }
}

impl TileProvider for HttpTiles<'_> {
    async fn fetch<H: Hooks>(&self, source: &TileSource, tiles: Vec<TileId>, hooks: &H) -> Result<FetchedTiles> {
        let cog = self.cog(source).await?;
        let archive = match cog {
            Some(_) => None,
            None => self.archive(source, &tiles).await?,
        };
        let (req, archive) = (self.request(source), archive.as_ref());
        let get = |tile: TileId, _attempt: u32| {
            let cog = cog.clone();
            async move {
                // A COG's tile: its stored bytes, decoded in Rust by `decode`.
                if let Some(cog) = cog {
                    return cog.tile(tile).await.map_err(|e| e.redacted(|reason| source.redact(reason)));
                }
                match self.net.load(req, archive, tile).await?.0 {
                    Body::Image(image) => Ok(image.to_vec()),
                    Body::Empty => Ok(Vec::new()),
                }
            }
        };
        fetch_tiles(
            tiles,
            self.policy,
            get,
            |ms| timer::sleep(ms, self.signal),
            &mut |done, total| hooks.progress(Stage::Fetch, done, total),
            &|| hooks.is_cancelled(),
        )
        .await
    }

    async fn decode(&self, source: &TileSource, tile: TileId, bytes: &[u8]) -> Result<DecodedTile, String> {
        let Some(url) = source.cog_url() else { return decode(self.global, bytes.to_vec()).await };
        let cog = self.net.open_cog(url).ok_or_else(|| format!("the COG {} is not open", source.redact(url)))?;
        let image = cog.decode(tile, bytes)?;
        Ok(DecodedTile::from_rgba(image.data, image.width, image.height))
    }

    async fn image_levels(&self, source: &TileSource) -> Result<Option<Vec<ImageGrid>>> {
        Ok(self.cog(source).await?.map(|cog| cog.levels().to_vec()))
    }

    async fn fetch_composite<H: Hooks>(
        &self,
        source: &TileSource,
        tiles: Vec<TileId>,
        fail_on_missing: bool,
        hooks: &H,
        stitcher: &mut Stitcher,
    ) -> Option<Result<Composited>> {
        // A COG's tiles are decoded in Rust: fetched, then decoded and stitched.
        if source.cog_url().is_some() {
            return None;
        }
        Some(self.stream(source, tiles, fail_on_missing, hooks, stitcher).await)
    }
}

/// `createImageBitmap` on an encoded image (PNG, JPEG, WebP...), exact pixel values.
async fn bitmap(global: &Global, blob: &Blob) -> Result<ImageBitmap, String> {
    let options = ImageBitmapOptions::new();
    options.set_color_space_conversion(ColorSpaceConversion::None);
    options.set_premultiply_alpha(PremultiplyAlpha::None);
    let promise = global.create_image_bitmap(blob, &options).map_err(|e| describe(&e))?;
    Ok(JsFuture::from(promise).await.map_err(|e| describe(&e))?.unchecked_into())
}

/// A `width` x `height` canvas and its 2D context, set up for reading back.
fn canvas(width: u32, height: u32) -> Result<OffscreenCanvasRenderingContext2d, JsValue> {
    let canvas = OffscreenCanvas::new(width, height)?;
    let context_options = js_sys::Object::new();
    js_sys::Reflect::set(&context_options, &"willReadFrequently".into(), &true.into())?;
    Ok(canvas
        .get_context_with_context_options("2d", &context_options)?
        .ok_or_else(|| JsValue::from_str("no 2d context"))?
        .unchecked_into())
}

/// Decode an encoded image into RGB8 or RGBA8: PNG, JPEG and WebP in Rust
/// ([`decode_image`], on a thread of the pool where there is one), anything else by the
/// browser ([`browser_decode`], which sniffs the format from the bytes). A body that claims one
/// of the three formats but does not decode in Rust goes to the browser too, which may know
/// more of it; if that fails as well, Rust's reason is given.
pub async fn decode(global: &Global, bytes: Vec<u8>) -> Result<DecodedTile, String> {
    let decoded = parallel::off_thread(move || match decode_image(&bytes) {
        Ok(Some(tile)) => Ok(tile),
        Ok(None) => Err((None, bytes)),
        Err(reason) => Err((Some(reason), bytes)),
    })
    .await
    .map_err(|e| e.to_string())?;
    let (rust_failed, bytes) = match decoded {
        Ok(tile) => return Ok(tile),
        Err(failed) => failed,
    };
    let by_browser = match blob_of(&bytes) {
        Ok(blob) => browser_decode(global, &blob).await,
        Err(e) => Err(describe(&e)),
    };
    by_browser.map_err(|browser| rust_failed.unwrap_or(browser))
}

/// The browser's decode of an image in any format it knows: `createImageBitmap`, drawn onto
/// a canvas of its size and read back as RGBA8.
pub async fn browser_decode(global: &Global, blob: &Blob) -> Result<DecodedTile, String> {
    let bitmap = bitmap(global, blob).await?;
    let (width, height) = (bitmap.width(), bitmap.height());
    let pixels = canvas(width, height).and_then(|ctx| {
        ctx.draw_image_with_image_bitmap(&bitmap, 0.0, 0.0)?;
        Ok(ctx.get_image_data(0.0, 0.0, f64::from(width), f64::from(height))?.data().0)
    });
    bitmap.close();
    let rgba = pixels.map_err(|e| describe(&e))?;
    Ok(DecodedTile::from_rgba(rgba, width, height))
}

impl HttpTiles<'_> {
    /// [`TileProvider::fetch_composite`] in the browser: each tile is decoded ([`decode`]) as
    /// soon as its body is in, while other tiles download, and put into `stitcher` at once. A
    /// tile that downloads but does not decode fails like a permanent HTTP error (no retry).
    /// At most `policy.concurrency` tiles are in flight, downloading or decoding, so at most
    /// that many decoded tiles wait to be put in.
    async fn stream<H: Hooks>(
        &self,
        source: &TileSource,
        tiles: Vec<TileId>,
        fail_on_missing: bool,
        hooks: &H,
        stitcher: &mut Stitcher,
    ) -> Result<Composited> {
        let start = hooks.now_ms();
        let total = tiles.len();
        let last_download = Cell::new(start);
        let stats = Cell::new(TileStats { requested: total, ..TileStats::default() });
        let count = |change: &dyn Fn(&mut TileStats)| {
            let mut s = stats.get();
            change(&mut s);
            stats.set(s);
        };
        let archive = self.archive(source, &tiles).await?;
        let (req, archive) = (self.request(source), archive.as_ref());
        let get = |tile: TileId, attempt: u32| {
            let (last_download, count) = (&last_download, &count);
            async move {
                if attempt > 0 {
                    count(&|s| s.retries += 1);
                }
                let (body, origin) = self.net.load(req, archive, tile).await?;
                match origin {
                    Origin::Cache => count(&|s| s.from_cache += 1),
                    Origin::Network(size) => {
                        last_download.set(last_download.get().max(hooks.now_ms()));
                        count(&|s| {
                            s.downloaded += 1;
                            s.bytes += size as f64;
                        });
                    }
                }
                let Body::Image(image) = body else {
                    count(&|s| s.empty += 1);
                    return Ok(None);
                };
                let decoded =
                    decode(self.global, image.to_vec()).await.map_err(|reason| not_an_image(&image, &reason))?;
                if matches!(origin, Origin::Network(_)) {
                    self.net.persist(req, tile, &image);
                }
                Ok(Some(decoded))
            }
        };
        let mut missing = Vec::new();
        let mut done = 0;
        let mut settled = |index: usize, tile: TileId, outcome: Result<Option<DecodedTile>, TileFailure>| {
            done += 1;
            hooks.progress(Stage::Fetch, done, total);
            match outcome {
                Ok(None) => stitcher.skip_tile(tile),
                Ok(Some(t)) => stitcher.put_tile(tile, &t),
                Err(failure) if fail_on_missing => Err(failure.into()),
                Err(failure) => {
                    missing.push((index, failure));
                    stitcher.skip_tile(tile)
                }
            }
        };
        hooks.downloads_starting();
        fetch_tiles_each(tiles, self.policy, get, |ms| timer::sleep(ms, self.signal), &mut settled, &|| {
            hooks.is_cancelled()
        })
        .await?;
        let fetch_ms = last_download.get() - start;
        // Every tile went into the raster as it settled: it is whole now.
        hooks.progress(Stage::Stitch, 0, total);
        hooks.progress(Stage::Stitch, total, total);
        missing.sort_unstable_by_key(|(index, _)| *index);
        let stats = TileStats { failed: missing.len(), ..stats.get() };
        Ok(Composited { missing: missing.into_iter().map(|(_, failure)| failure).collect(), fetch_ms, stats })
    }
}
