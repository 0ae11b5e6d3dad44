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

/// A tile as it settles: the encoded image, or why it could not be downloaded.
pub type FetchedTile = (TileId, Result<Vec<u8>, TileFailure>);

/// Supplies tiles: downloads them, and decodes them. The caller decodes each tile as soon as
/// it arrives, while the others download.
#[allow(async_fn_in_trait)]
pub trait TileProvider {
    /// Download `tiles` from `source`, handing each to `on_tile` as it settles (in completion
    /// order), reporting [`super::Stage::Fetch`] progress through `hooks` and stopping with
    /// [`crate::Error::Aborted`] when it is cancelled.
    async fn fetch<H: Hooks>(
        &self,
        source: &TileSource,
        tiles: Vec<TileId>,
        hooks: &H,
        on_tile: &mut dyn FnMut(FetchedTile),
    ) -> Result<()>;
    /// Decode one encoded tile into RGBA8.
    async fn decode(&self, bytes: &[u8]) -> Result<DecodedTile, String>;
}
