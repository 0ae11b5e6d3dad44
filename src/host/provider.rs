//! Where tiles come from: a [`TileProvider`] downloads encoded tiles, then decodes them.

use crate::Result;
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
}
