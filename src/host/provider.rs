//! Where tiles come from: a [`TileProvider`] downloads encoded tiles, then decodes them (or,
//! where the host can, decodes each as it arrives: [`TileProvider::fetch_composite`]). A source
//! read in its own pixel grid (a COG) also gives its levels ([`TileProvider::image_levels`]).

use crate::Result;
use crate::imagery::{ImageGrid, Stitcher};
use crate::tiles::fetch::{TileFailure, TileStats};
use crate::tiles::{TileId, TileSource};

use super::Hooks;

pub use crate::imagery::decode::DecodedTile;

/// One entry per requested tile, in request order: the encoded image (empty where the source
/// says there is no imagery: the tile stays black and is not missing) or why it failed.
pub type FetchedTiles = Vec<(TileId, Result<Vec<u8>, TileFailure>)>;

/// What [`TileProvider::fetch_composite`] returns.
#[derive(Debug, Clone, Default)]
pub struct Composited {
    /// The tiles that could not be loaded (downloaded or decoded), in request order; their
    /// pixels are black.
    pub missing: Vec<TileFailure>,
    /// Milliseconds from the call until the last download settled (decoding overlapped them).
    pub fetch_ms: f64,
    /// What loading the tiles took.
    pub stats: TileStats,
}

/// Supplies tiles: downloads them, then decodes them. The two are separate stages so each
/// can be timed on its own.
#[allow(async_fn_in_trait)]
pub trait TileProvider {
    /// Download `tiles` from `source`, reporting [`super::Stage::Fetch`] progress through
    /// `hooks` and stopping with [`crate::Error::Aborted`] when it is cancelled.
    async fn fetch<H: Hooks>(&self, source: &TileSource, tiles: Vec<TileId>, hooks: &H) -> Result<FetchedTiles>;
    /// Decode one downloaded tile of `source` into RGB8 or RGBA8 (for a COG, `tile`'s stored
    /// bytes; its edge tiles come out cropped to the image).
    async fn decode(&self, source: &TileSource, tile: TileId, bytes: &[u8]) -> Result<DecodedTile, String>;

    /// The levels of a source read in its own pixel grid (a `{ cog }` source: the COG opened,
    /// or as this host opened it before), full resolution first; `None` (the default) for a
    /// source of Web Mercator tiles. Fails with [`crate::Error::TileFetchFailed`] when the
    /// file cannot be read or is not a COG geodetect can run on, saying why.
    async fn image_levels(&self, _source: &TileSource) -> Result<Option<Vec<ImageGrid>>> {
        Ok(None)
    }

    /// Download `tiles` (those of the stitcher's extent, in that order) and put each into
    /// `stitcher` as soon as it has arrived and decoded, where the host can overlap the two
    /// (the browser: several downloads in flight while the tiles that arrived decode, on the
    /// thread pool where there is one). Pixels of no tile stay black. Reports
    /// [`super::Stage::Fetch`] progress per tile settled (downloaded and put in, or failed);
    /// fails with [`crate::Error::ImageDecode`] on a tile of the wrong size, with
    /// [`crate::Error::Aborted`] when cancelled, and with the first failure when
    /// `fail_on_missing` is set. `None` (the default): no such way; the caller uses
    /// [`Self::fetch`] and [`Self::decode`].
    async fn fetch_composite<H: Hooks>(
        &self,
        _source: &TileSource,
        _tiles: Vec<TileId>,
        _fail_on_missing: bool,
        _hooks: &H,
        _stitcher: &mut Stitcher,
    ) -> Option<Result<Composited>> {
        None
    }
}
