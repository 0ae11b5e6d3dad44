//! [`CogSource`]: a COG as the source of a run's raster, in its own pixel grid: its levels as
//! [`ImageGrid`]s (the planner picks one and cuts it into chunks and windows like Web Mercator
//! tiles), each tile's bytes read as one byte range through the host's scheduler (retries,
//! per-host limits, cancellation), and decoded here, in Rust.

use std::cell::Cell;

use super::Crs;
use super::error::CogError;
use super::fetch::checked;
use super::raster::RgbaImage;
use super::reader::Cog;
use crate::imagery::ImageGrid;
use crate::tiles::TileId;
use crate::tiles::fetch::{FetchAttemptError, RangeRead};

/// An open COG that runs read tiles from.
pub struct CogSource<R> {
    cog: Cog<R>,
    levels: Vec<ImageGrid>,
    /// Set once a read saw another version of the file: the levels held are no longer the
    /// file's, and the host opens it again for the next run.
    stale: Cell<bool>,
}

impl<R> std::fmt::Debug for CogSource<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CogSource").field("cog", &self.cog).field("levels", &self.levels.len()).finish_non_exhaustive()
    }
}

/// A COG failure as a read attempt's: retried where another try can help.
pub fn attempt_error(e: CogError) -> FetchAttemptError {
    match e {
        CogError::Fetch(attempt) => attempt,
        e if e.is_retryable() => FetchAttemptError::Retryable(e.to_string()),
        e => FetchAttemptError::Permanent(e.to_string()),
    }
}

impl<R: RangeRead> CogSource<R> {
    /// Opens the COG (its header, in as few reads as the file allows) and checks that
    /// geodetect can run on it: georeferenced in a CRS `proj4rs` knows, and tiled in square
    /// tiles at every level (GDAL's COG driver writes them so). The errors say what is wrong.
    pub async fn open(reader: R) -> Result<Self, FetchAttemptError> {
        let cog = Cog::open(reader).await.map_err(attempt_error)?;
        let georef = cog.georef().map_err(|e| attempt_error(e.clone()))?;
        let keys = georef.keys();
        Crs::shared(keys.epsg, keys.kind).map_err(attempt_error)?;
        let mut levels = Vec::with_capacity(cog.levels().len());
        for (index, level) in cog.levels().iter().enumerate() {
            let (tw, th) = (level.tile_width(), level.tile_height());
            if tw != th {
                return Err(FetchAttemptError::Permanent(format!(
                    "level {index} of the COG has {tw} x {th} pixel tiles; geodetect reads COGs with square tiles \
                     (rewrite it with GDAL's COG driver, e.g. `gdal_translate -of COG`)"
                )));
            }
            let level_index = u8::try_from(index)
                .map_err(|_| FetchAttemptError::Permanent(format!("the COG has {} levels", cog.levels().len())))?;
            levels.push(ImageGrid {
                zoom: 0,
                level: level_index,
                tile_size: tw,
                width: level.width(),
                height: level.height(),
                affine: cog.level_affine(index).map_err(attempt_error)?,
                epsg: keys.epsg,
                kind: keys.kind,
            });
        }
        Ok(CogSource { cog, levels, stale: Cell::new(false) })
    }

    /// The levels, full resolution first (each with `zoom` 0 until the planner picks one).
    pub fn levels(&self) -> &[ImageGrid] {
        &self.levels
    }

    /// Whether a read found the file replaced since it was opened.
    pub fn is_stale(&self) -> bool {
        self.stale.get()
    }

    /// The stored bytes of `tile` (`z` is the level): one range read, checked to be whole and
    /// of the version opened. Empty for a tile the file does not hold (GDAL's sparse COGs: no
    /// imagery there).
    pub async fn tile(&self, tile: TileId) -> Result<Vec<u8>, FetchAttemptError> {
        let level = usize::from(tile.z);
        let Some(l) = self.cog.levels().get(level) else {
            return Err(FetchAttemptError::Permanent(format!("the COG has no level {level}")));
        };
        if tile.x >= l.tiles_across() || tile.y >= l.tiles_down() {
            return Err(FetchAttemptError::Permanent(format!("the COG's level {level} has no tile {tile}")));
        }
        let Some((offset, length)) = l.tile_range(tile.x, tile.y) else { return Ok(Vec::new()) };
        let wanted =
            usize::try_from(length).map_err(|_| FetchAttemptError::Permanent(format!("a {length} byte tile")))?;
        let read = self.cog.reader().read(offset, wanted).await?;
        checked(read, offset, length, self.cog.version()).map_err(|e| {
            if let CogError::Changed { .. } = e {
                self.stale.set(true);
            }
            attempt_error(e)
        })
    }

    /// Decodes `tile`'s bytes (from [`CogSource::tile`]) into RGBA, cropped to the image at
    /// its right and bottom edges.
    pub fn decode(&self, tile: TileId, bytes: &[u8]) -> Result<RgbaImage, String> {
        self.cog.decode_tile(usize::from(tile.z), tile.x, tile.y, bytes).map_err(|e| e.to_string())
    }
}
