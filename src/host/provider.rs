//! Where tiles come from: a [`TileProvider`] downloads encoded tiles, then decodes them.

use crate::Result;
use crate::imagery::PixelExtent;
use crate::tiles::fetch::TileFailure;
use crate::tiles::{TileId, TileSource};

use super::Hooks;

/// A decoded tile.
#[derive(Debug, Clone)]
pub struct DecodedTile {
    /// RGBA8, row-major.
    pub rgba: Vec<u8>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// One entry per requested tile, in request order: the encoded image or why it failed.
pub type FetchedTiles = Vec<(TileId, Result<Vec<u8>, TileFailure>)>;

/// Supplies tiles: downloads them, then decodes them. The two are separate stages so each
/// can be timed on its own.
#[allow(async_fn_in_trait)]
pub trait TileProvider {
    /// Download `tiles` from `source`, reporting [`super::Stage::Fetch`] progress through
    /// `hooks` and stopping with [`crate::Error::Aborted`] when it is cancelled.
    async fn fetch<H: Hooks>(&self, source: &TileSource, tiles: Vec<TileId>, hooks: &H) -> Result<FetchedTiles>;
    /// Decode one encoded tile into RGBA8.
    async fn decode(&self, bytes: &[u8]) -> Result<DecodedTile, String>;

    /// Decode `tiles` (encoded, of `extent`) and composite them into the extent's pixels in
    /// one pass, where the host has a faster way than decoding them one by one: the browser
    /// draws every tile onto one canvas and reads it back once, in strips. Calls
    /// `put_rows(first_row, rgba)` with whole RGBA rows of the extent, top to bottom (pixels
    /// of no tile are black), reports [`super::Stage::Stitch`] progress per tile, fails with
    /// [`crate::Error::ImageDecode`] on a tile of the wrong size, and returns the tiles that
    /// could not be decoded, with why. `None` (the default): no such way; the caller decodes
    /// each tile with [`Self::decode`].
    async fn composite<H: Hooks>(
        &self,
        _extent: &PixelExtent,
        _tiles: &[(TileId, &[u8])],
        _hooks: &H,
        _put_rows: &mut dyn FnMut(u32, &[u8]) -> Result<()>,
    ) -> Option<Result<Vec<(TileId, String)>>> {
        None
    }
}
