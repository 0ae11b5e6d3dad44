//! Tiles over HTTP, decoded by the browser (`createImageBitmap` + `OffscreenCanvas`), with
//! colour-space conversion and alpha premultiplication off so pixel values are exact.

use js_sys::{Array, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AbortSignal, Blob, ColorSpaceConversion, ImageBitmap, ImageBitmapOptions, OffscreenCanvas,
    OffscreenCanvasRenderingContext2d, PremultiplyAlpha,
};

use super::error::describe;
use super::global::Global;
use super::http::get_bytes;
use crate::Result;
use crate::host::{DecodedTile, FetchedTiles, Hooks, Stage, TileProvider};
use crate::tiles::fetch::{FetchPolicy, fetch_tiles};
use crate::tiles::{TileId, TileSource};

/// Fetches tiles with the scheduler of [`crate::tiles::fetch`].
#[derive(Debug)]
pub struct HttpTiles<'a> {
    pub global: &'a Global,
    pub policy: &'a FetchPolicy,
    pub signal: Option<&'a AbortSignal>,
}

impl TileProvider for HttpTiles<'_> {
    async fn fetch<H: Hooks>(&self, source: &TileSource, tiles: Vec<TileId>, hooks: &H) -> Result<FetchedTiles> {
        let get = |tile: TileId, _attempt: u32| {
            get_bytes(self.global, source.tile_url(&tile), self.policy.timeout_ms, self.signal)
        };
        fetch_tiles(
            tiles,
            self.policy,
            get,
            gloo_timers::future::TimeoutFuture::new,
            &mut |done, total| hooks.progress(Stage::Fetch, done, total),
            &|| hooks.is_cancelled(),
        )
        .await
    }

    async fn decode(&self, bytes: &[u8]) -> Result<DecodedTile, String> {
        decode(self.global, bytes).await
    }
}

/// Decode an encoded image (PNG, JPEG, WebP...) into RGBA8.
pub async fn decode(global: &Global, bytes: &[u8]) -> Result<DecodedTile, String> {
    let parts = Array::of1(&Uint8Array::from(bytes));
    let blob = Blob::new_with_u8_array_sequence(&parts).map_err(|e| describe(&e))?;
    let options = ImageBitmapOptions::new();
    options.set_color_space_conversion(ColorSpaceConversion::None);
    options.set_premultiply_alpha(PremultiplyAlpha::None);
    let promise = global.create_image_bitmap(&blob, &options).map_err(|e| describe(&e))?;
    let bitmap: ImageBitmap = JsFuture::from(promise).await.map_err(|e| describe(&e))?.unchecked_into();
    let (width, height) = (bitmap.width(), bitmap.height());
    let pixels = (|| {
        let canvas = OffscreenCanvas::new(width, height)?;
        let context_options = js_sys::Object::new();
        js_sys::Reflect::set(&context_options, &"willReadFrequently".into(), &true.into())?;
        let ctx: OffscreenCanvasRenderingContext2d = canvas
            .get_context_with_context_options("2d", &context_options)?
            .ok_or_else(|| wasm_bindgen::JsValue::from_str("no 2d context"))?
            .unchecked_into();
        ctx.draw_image_with_image_bitmap(&bitmap, 0.0, 0.0)?;
        Ok::<_, wasm_bindgen::JsValue>(ctx.get_image_data(0.0, 0.0, width as f64, height as f64)?.data().0)
    })();
    bitmap.close();
    let rgba = pixels.map_err(|e| describe(&e))?;
    Ok(DecodedTile { rgba, width, height })
}
