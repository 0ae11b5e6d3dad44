//! An area of any size as a sequence of chunks, each a raster of bounded size that is
//! fetched, stitched, run and released before the next, so that memory depends on the chunk
//! size and not on the area.
//!
//! The model windows are planned over the whole area's extent, exactly as for one raster of
//! the whole area ([`crate::detect::preprocess::plan_windows`]), and grouped into blocks of at
//! most [`CHUNK_WINDOWS`] × [`CHUNK_WINDOWS`]: a chunk is the smallest rectangle holding its
//! windows, so neighbouring chunks overlap exactly as neighbouring windows do, and running
//! every chunk runs the same windows on the same pixels as one raster would.
//!
//! Only what touches the area is planned: a window that does not intersect the area is
//! skipped (no detection of it could be inside), a chunk with no window left is never
//! fetched, and a chunk fetches only the tiles that come within `margin` pixels of the area
//! (objects that straddle the area's edge keep their pixels); the rest of its raster stays
//! black. A long diagonal, an L-shape, a MultiPolygon's far-apart parts or a large hole fetch
//! a fraction of their bounding box's tiles.
//!
//! The grid is Web Mercator tiles at one zoom, or one level of a COG in its own CRS
//! ([`Grid`]). On Web Mercator the tests are exact in lon/lat: a tile's or window's edges are
//! lines of constant longitude and latitude, so its outline is a lon/lat rectangle, tested
//! against the area's polygons as GeoJSON draws them. On an image's grid, whose pixel rows
//! follow no parallel, the area is carried into the grid's pixels instead (its edges
//! densified first, as straight lon/lat lines bend in the image's CRS) and tested there.

use geo::{Densify, Euclidean, Intersects, MapCoords, MultiPolygon, Rect, coord};

use crate::detect::preprocess::{Window, window_starts};
use crate::geojson::Aoi;
use crate::imagery::{Grid, PixelExtent};
use crate::tiles::{TileId, TileRange};
use crate::{Error, Result};

/// An area carried into an image's pixels has edges of at most its bounding box's diagonal
/// divided by this (in degrees) before they are projected: the bend of a straight lon/lat
/// line over such a piece is far below a pixel.
const DENSIFY_STEPS: f64 = 256.0;

/// Model windows per chunk side: a chunk's raster is at most about twice the model input
/// per side (2048 × 2048 px, 12 MiB of RGB, for a 1024 px model).
pub const CHUNK_WINDOWS: usize = 2;

/// A bounding box of more than this many times `maxTiles` tiles (and more than
/// [`SCAN_TILES`]) is refused without testing each tile against the area: it would take too
/// long, and could only pass for an area that fills under 1/64 of its box.
const SCAN_FACTOR: u64 = 64;
/// Tiles of a bounding box tested one by one at most, whatever `maxTiles` (a few seconds in
/// wasm for a simple polygon), unless `maxTiles` itself is larger.
const SCAN_TILES: u64 = 4 << 20;

/// A model window of the area's plan: its place in the area's raster, and its number in the
/// plan (row-major over all windows of the area, skipped ones included), which orders
/// detections the same way however the area is cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlannedWindow {
    pub index: usize,
    pub window: Window,
}

/// One chunk: a sub-extent of the area, the windows it runs (in area pixels) and the tiles it
/// fetches.
#[derive(Clone, Debug, PartialEq)]
pub struct Chunk {
    /// The chunk's raster.
    pub extent: PixelExtent,
    /// Where the chunk's raster starts in the area's raster.
    pub offset: (u32, u32),
    /// The chunk's row (chunks run row by row, west to east in each).
    pub row: usize,
    /// The windows to run, in area pixels.
    pub windows: Vec<PlannedWindow>,
    /// The tiles to fetch: those of `extent` that come within the margin of the area.
    pub tiles: Vec<TileId>,
}

/// How an area is run: its extent, and the chunks in order (rows of chunks, north to south).
#[derive(Clone, Debug, PartialEq)]
pub struct AreaPlan {
    /// The extent covering the whole area (the pixel grid every result refers to).
    pub extent: PixelExtent,
    /// The chunks to run, in order.
    pub chunks: Vec<Chunk>,
    /// Windows in all chunks.
    pub windows: usize,
    /// Tile fetches in all chunks (a tile on a seam between two chunks counts twice).
    pub tile_fetches: usize,
    /// Distinct tiles the area needs (what `maxTiles` limits).
    pub tiles: u64,
    /// Tiles of the area's bounding box, for comparison.
    pub bbox_tiles: u64,
}

/// What [`AreaPlan::new`] needs besides the area.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlanParams {
    /// The pixel grid to run in.
    pub grid: Grid,
    /// The model's input side.
    pub input_size: u32,
    /// Overlap of neighbouring windows, in pixels.
    pub overlap: u32,
    /// Tiles within this many pixels of the area are fetched.
    pub margin: u32,
    /// Most distinct tiles the area may need (`maxTiles`).
    pub max_tiles: u64,
    /// Windows per chunk side (normally [`CHUNK_WINDOWS`]; tests cut finer or coarser).
    pub chunk_windows: usize,
}

impl AreaPlan {
    /// Plan `aoi`. Fails with [`Error::TooManyTiles`] (naming the zoom at which the area would
    /// fit) when the area needs more than `max_tiles` tiles.
    pub fn new(aoi: &Aoi, p: PlanParams) -> Result<AreaPlan> {
        p.grid.validate()?;
        let footprint = Footprint::new(aoi, &p.grid)?;
        let needed = NeededTiles::new(&footprint, &p.grid, p.margin, p.max_tiles);
        let needed = match needed {
            Some(n) if n.count <= p.max_tiles => n,
            found => {
                let count = found.map(|n| n.count);
                let (zoom, fits) = match p.grid {
                    Grid::Mercator { zoom, .. } => (zoom, fitting_zoom(aoi, &p)),
                    Grid::Image(g) => (g.zoom, None),
                };
                return Err(Error::TooManyTiles {
                    needed: count.unwrap_or_else(|| footprint.range(&p.grid).count()),
                    limit: p.max_tiles,
                    zoom,
                    fits,
                    bbox_only: count.is_none(),
                });
            }
        };
        let (min, max) = footprint.pixel_bounds(&p.grid);
        let extent = PixelExtent::covering_pixels(p.grid, min, max)?;
        let xs = window_starts(extent.width, p.input_size, p.overlap)?;
        let ys = window_starts(extent.height, p.input_size, p.overlap)?;
        let window = |col: usize, row: usize| {
            let (x, y) = (xs[col], ys[row]);
            let w =
                Window { x, y, width: p.input_size.min(extent.width - x), height: p.input_size.min(extent.height - y) };
            PlannedWindow { index: row * xs.len() + col, window: w }
        };
        let step = p.chunk_windows.max(1);
        let mut chunks = Vec::new();
        for rows in (0..ys.len()).step_by(step) {
            for cols in (0..xs.len()).step_by(step) {
                let windows: Vec<PlannedWindow> = (rows..(rows + step).min(ys.len()))
                    .flat_map(|row| (cols..(cols + step).min(xs.len())).map(move |col| (col, row)))
                    .map(|(col, row)| window(col, row))
                    .filter(|w| footprint.touches(&extent.grid, window_rect(&extent, &w.window, 0)))
                    .collect();
                if let Some(chunk) = chunk_of(&extent, windows, &needed, rows / step) {
                    chunks.push(chunk);
                }
            }
        }
        Ok(AreaPlan {
            extent,
            windows: chunks.iter().map(|c| c.windows.len()).sum(),
            tile_fetches: chunks.iter().map(|c| c.tiles.len()).sum(),
            tiles: needed.count,
            bbox_tiles: needed.range.count(),
            chunks,
        })
    }

    /// Where detections of the chunks not yet `done` (one flag per chunk) may still appear,
    /// in area pixels (`[x0, y0, x1, y1]`): one rectangle per run of consecutive such chunks
    /// in a row (chunks may finish in any order on a pool of workers; one after the other,
    /// that is the rest of the current row and one per later row). Each holds its chunks'
    /// windows, stretched to infinity on the sides that lie on the area's border (a box there
    /// may reach past the raster), not on the inner ones (a box cut by an inner side is
    /// dropped and left to the neighbour). A rectangle around several windows is larger than
    /// the windows themselves, which only makes detections wait a little longer; one per run
    /// keeps the merge's work small on areas of thousands of windows.
    pub fn open_regions(&self, done: &[bool]) -> Vec<[f64; 4]> {
        let mut regions = Vec::new();
        let mut run: Vec<&Chunk> = Vec::new();
        for (k, chunk) in self.chunks.iter().enumerate() {
            let open = !done.get(k).copied().unwrap_or(false);
            if !open || run.last().is_some_and(|last| last.row != chunk.row) {
                regions.extend(self.around(&run));
                run.clear();
            }
            if open {
                run.push(chunk);
            }
        }
        regions.extend(self.around(&run));
        regions
    }

    /// The rectangle around `chunks`' windows, stretched at the area's border (none: no chunk).
    fn around(&self, chunks: &[&Chunk]) -> Option<[f64; 4]> {
        let (w, h) = (self.extent.width, self.extent.height);
        chunks
            .iter()
            .flat_map(|c| &c.windows)
            .map(|pw| {
                let win = &pw.window;
                let inner = win.interior_sides(w, h);
                let side = |inside: bool, at: u32, out: f64| if inside { f64::from(at) } else { out };
                [
                    side(inner[0], win.x, f64::NEG_INFINITY),
                    side(inner[1], win.y, f64::NEG_INFINITY),
                    side(inner[2], win.x + win.width, f64::INFINITY),
                    side(inner[3], win.y + win.height, f64::INFINITY),
                ]
            })
            .reduce(|a, b| [a[0].min(b[0]), a[1].min(b[1]), a[2].max(b[2]), a[3].max(b[3])])
    }
}

/// The area as the plan tests tiles and windows against it (see the module).
enum Footprint<'a> {
    /// Web Mercator: pixel rectangles become lon/lat rectangles.
    LonLat(&'a Aoi),
    /// An image's grid: the area in the grid's pixels.
    Pixels(MultiPolygon<f64>),
}

impl<'a> Footprint<'a> {
    /// `aoi` for `grid`; on an image's grid, fails when the area lies outside the image.
    fn new(aoi: &'a Aoi, grid: &Grid) -> Result<Self> {
        if let Grid::Mercator { .. } = grid {
            return Ok(Footprint::LonLat(aoi));
        }
        let b = aoi.bounds();
        let step = (b.width().hypot(b.height()) / DENSIFY_STEPS).max(1e-9);
        let pixels = Euclidean.densify(aoi.geometry(), step).map_coords(|c| {
            let [x, y] = grid.lonlat_to_pixel(c.x, c.y);
            coord! { x: x, y: y }
        });
        let footprint = Footprint::Pixels(pixels);
        let (w, h) = grid.size_px();
        let (min, max) = footprint.pixel_bounds(grid);
        let finite = [min[0], min[1], max[0], max[1]].iter().all(|v| v.is_finite());
        if !finite || max[0] <= 0.0 || max[1] <= 0.0 || min[0] >= w as f64 || min[1] >= h as f64 {
            let [west, south, east, north] =
                PixelExtent { grid: *grid, x0: 0, y0: 0, width: w as u32, height: h as u32 }
                    .bounds_lonlat()
                    .map(|v| (v * 1e6).round() / 1e6);
            return Err(Error::InvalidPolygon(format!(
                "the area lies outside the image, which covers [{west}, {south}, {east}, {north}] (west, south, \
                 east, north); draw the area over the image"
            )));
        }
        Ok(footprint)
    }

    /// Whether the grid-pixel rectangle `[x0, y0, x1, y1]` touches the area.
    fn touches(&self, grid: &Grid, [x0, y0, x1, y1]: [f64; 4]) -> bool {
        match self {
            Footprint::LonLat(aoi) => aoi.geometry().intersects(&lonlat_rect(grid, [x0, y0, x1, y1])),
            Footprint::Pixels(area) => area.intersects(&Rect::new(coord! { x: x0, y: y0 }, coord! { x: x1, y: y1 })),
        }
    }

    /// The grid-pixel rectangle around the area: north-west and south-east corners.
    fn pixel_bounds(&self, grid: &Grid) -> ([f64; 2], [f64; 2]) {
        match self {
            Footprint::LonLat(aoi) => {
                let b = aoi.bounds();
                let nw = grid.lonlat_to_pixel(b.min().x.clamp(-180.0, 180.0), b.max().y);
                let se = grid.lonlat_to_pixel(b.max().x.clamp(-180.0, 180.0), b.min().y);
                (nw, se)
            }
            Footprint::Pixels(area) => match geo::BoundingRect::bounding_rect(area) {
                Some(r) => ([r.min().x, r.min().y], [r.max().x, r.max().y]),
                None => ([f64::NAN; 2], [f64::NAN; 2]),
            },
        }
    }

    /// The tiles under the area's bounding box.
    fn range(&self, grid: &Grid) -> TileRange {
        let (min, max) = self.pixel_bounds(grid);
        grid.tiles_covering(min, max)
    }
}

/// The tiles of the area's bounding box that come within `margin` pixels of the area.
struct NeededTiles {
    range: TileRange,
    /// Row-major over `range`.
    needed: Vec<bool>,
    count: u64,
}

impl NeededTiles {
    /// `None` when the bounding box has too many tiles to test one by one: more than
    /// [`SCAN_FACTOR`] × `max_tiles` or [`SCAN_TILES`], whichever is smaller (but never fewer
    /// than `max_tiles`).
    fn new(footprint: &Footprint, grid: &Grid, margin: u32, max_tiles: u64) -> Option<Self> {
        let range = footprint.range(grid);
        let scan = max_tiles.saturating_mul(SCAN_FACTOR).min(SCAN_TILES).max(max_tiles);
        if range.count() > scan {
            return None;
        }
        let needed: Vec<bool> = range.iter().map(|t| footprint.touches(grid, tile_rect(grid, t, margin))).collect();
        let count = needed.iter().filter(|&&n| n).count() as u64;
        Some(NeededTiles { range, needed, count })
    }

    fn contains(&self, t: &TileId) -> bool {
        let cols = (self.range.x_max - self.range.x_min + 1) as usize;
        self.range.contains(t)
            && self.needed[(t.y - self.range.y_min) as usize * cols + (t.x - self.range.x_min) as usize]
    }
}

/// The highest zoom below the grid's at which the area needs at most `p.max_tiles` Web
/// Mercator tiles.
fn fitting_zoom(aoi: &Aoi, p: &PlanParams) -> Option<u8> {
    let Grid::Mercator { zoom, tile_size } = p.grid else { return None };
    (0..zoom).rev().find(|&z| {
        NeededTiles::new(&Footprint::LonLat(aoi), &Grid::mercator(z, tile_size), p.margin, p.max_tiles)
            .is_some_and(|n| n.count <= p.max_tiles)
    })
}

/// The lon/lat outline of a Web Mercator pixel rectangle (clamped to the world).
fn lonlat_rect(grid: &Grid, [x0, y0, x1, y1]: [f64; 4]) -> Rect<f64> {
    let (world, _) = grid.size_px();
    let c = |v: f64| v.clamp(0.0, world as f64);
    let [west, north] = grid.pixel_to_lonlat(c(x0), c(y0));
    let [east, south] = grid.pixel_to_lonlat(c(x1), c(y1));
    Rect::new(coord! { x: west, y: south }, coord! { x: east, y: north })
}

/// A tile's pixels grown by `margin`, in grid pixels `[x0, y0, x1, y1]`.
fn tile_rect(grid: &Grid, t: TileId, margin: u32) -> [f64; 4] {
    let (s, m) = (f64::from(grid.tile_size()), f64::from(margin));
    let (x, y) = (f64::from(t.x) * s, f64::from(t.y) * s);
    [x - m, y - m, x + s + m, y + s + m]
}

/// A window of the area's raster grown by `margin` pixels, in grid pixels `[x0, y0, x1, y1]`.
fn window_rect(extent: &PixelExtent, w: &Window, margin: u32) -> [f64; 4] {
    let (x, y, m) = (extent.x0 as f64 + f64::from(w.x), extent.y0 as f64 + f64::from(w.y), f64::from(margin));
    [x - m, y - m, x + f64::from(w.width) + m, y + f64::from(w.height) + m]
}

/// The chunk holding `windows` (none: no chunk).
fn chunk_of(area: &PixelExtent, windows: Vec<PlannedWindow>, needed: &NeededTiles, row: usize) -> Option<Chunk> {
    let x0 = windows.iter().map(|w| w.window.x).min()?;
    let y0 = windows.iter().map(|w| w.window.y).min()?;
    let x1 = windows.iter().map(|w| w.window.x + w.window.width).max()?;
    let y1 = windows.iter().map(|w| w.window.y + w.window.height).max()?;
    let extent = PixelExtent {
        grid: area.grid,
        x0: area.x0 + i64::from(x0),
        y0: area.y0 + i64::from(y0),
        width: x1 - x0,
        height: y1 - y0,
    };
    let tiles = extent.tiles().iter().filter(|t| needed.contains(t)).collect();
    Some(Chunk { extent, offset: (x0, y0), row, windows, tiles })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Marina tiles at zoom 19: the area of `tests/data/aoi/marina.geojson`, a rectangle.
    fn rect_aoi(west: f64, south: f64, east: f64, north: f64) -> Aoi {
        Aoi::from_json(&json!({ "type": "Polygon", "coordinates": [[[west, south], [east, south], [east, north], [west, north], [west, south]]] }))
            .unwrap()
    }

    fn params(zoom: u8) -> PlanParams {
        PlanParams {
            grid: Grid::mercator(zoom, 256),
            input_size: 1024,
            overlap: 128,
            margin: 128,
            max_tiles: 10_000,
            chunk_windows: 2,
        }
    }

    #[test]
    fn chunks_run_the_windows_of_one_raster_exactly_once() {
        // About 5000 x 3000 px at zoom 19.
        let aoi = rect_aoi(7.40, 43.72, 7.4268, 43.7355);
        let plan = AreaPlan::new(&aoi, params(19)).unwrap();
        let single = crate::detect::preprocess::plan_windows(plan.extent.width, plan.extent.height, 1024, 128).unwrap();
        let mut windows: Vec<PlannedWindow> = plan.chunks.iter().flat_map(|c| c.windows.clone()).collect();
        windows.sort_by_key(|w| w.index);
        assert_eq!(windows.iter().map(|w| w.window).collect::<Vec<_>>(), single, "same windows, each once");
        assert!(plan.chunks.len() > 4, "{} chunks", plan.chunks.len());
        for c in &plan.chunks {
            assert!(c.windows.len() <= CHUNK_WINDOWS * CHUNK_WINDOWS);
            assert!(c.extent.width <= 2048 && c.extent.height <= 2048, "{:?}", c.extent);
            for w in &c.windows {
                // Inside the chunk's raster.
                assert!(w.window.x >= c.offset.0 && w.window.x + w.window.width <= c.offset.0 + c.extent.width);
                assert!(w.window.y >= c.offset.1 && w.window.y + w.window.height <= c.offset.1 + c.extent.height);
            }
        }
        // A rectangle needs every tile of its box.
        assert_eq!(plan.tiles, plan.bbox_tiles);
    }

    #[test]
    fn a_diagonal_strip_fetches_a_fraction_of_its_box() {
        // A thin strip from south-west to north-east, about 40 px wide at zoom 18.
        let strip = Aoi::from_json(&json!({ "type": "Polygon", "coordinates": [[
            [7.30, 43.60], [7.3005, 43.60], [7.5005, 43.80], [7.50, 43.80], [7.30, 43.60]
        ]] }))
        .unwrap();
        let plan = AreaPlan::new(&strip, params(18)).unwrap();
        assert!(plan.tiles * 5 < plan.bbox_tiles, "{} of {} tiles", plan.tiles, plan.bbox_tiles);
        assert!(plan.tile_fetches < plan.bbox_tiles as usize / 4);
        let all_windows = window_starts(plan.extent.width, 1024, 128).unwrap().len()
            * window_starts(plan.extent.height, 1024, 128).unwrap().len();
        assert!(plan.windows * 4 < all_windows, "{} of {all_windows} windows", plan.windows);
        // Every fetched tile is near the strip; every window touches it.
        for c in &plan.chunks {
            for t in &c.tiles {
                let grid = Grid::mercator(18, 256);
                assert!(strip.geometry().intersects(&lonlat_rect(&grid, tile_rect(&grid, *t, 128))), "{t}");
            }
        }
    }

    #[test]
    fn chunks_in_a_hole_or_between_parts_are_never_fetched() {
        // Two squares 0.1° apart (a MultiPolygon), and a square with a large hole.
        let parts = Aoi::from_json(&json!({ "type": "MultiPolygon", "coordinates": [
            [[[7.30, 43.70], [7.31, 43.70], [7.31, 43.71], [7.30, 43.71], [7.30, 43.70]]],
            [[[7.40, 43.70], [7.41, 43.70], [7.41, 43.71], [7.40, 43.71], [7.40, 43.70]]]
        ] }))
        .unwrap();
        let plan = AreaPlan::new(&parts, params(17)).unwrap();
        let gap = rect_aoi(7.32, 43.70, 7.39, 43.71);
        for c in &plan.chunks {
            for t in &c.tiles {
                let grid = Grid::mercator(17, 256);
                assert!(
                    !gap.geometry().intersects(&lonlat_rect(&grid, tile_rect(&grid, *t, 0))),
                    "tile {t} lies between the parts"
                );
            }
        }
        let ring = Aoi::from_json(&json!({ "type": "Polygon", "coordinates": [
            [[7.30, 43.60], [7.50, 43.60], [7.50, 43.80], [7.30, 43.80], [7.30, 43.60]],
            [[7.32, 43.62], [7.32, 43.78], [7.48, 43.78], [7.48, 43.62], [7.32, 43.62]]
        ] }))
        .unwrap();
        let plan = AreaPlan::new(&ring, PlanParams { max_tiles: 100_000, ..params(16) }).unwrap();
        assert!(plan.tiles * 2 < plan.bbox_tiles, "{} of {} tiles", plan.tiles, plan.bbox_tiles);
        let hole = rect_aoi(7.33, 43.63, 7.47, 43.77);
        for c in &plan.chunks {
            for w in &c.windows {
                let r = lonlat_rect(&plan.extent.grid, window_rect(&plan.extent, &w.window, 0));
                assert!(!geo::Contains::contains(hole.geometry(), &r), "window {w:?} lies in the hole");
            }
        }
    }

    #[test]
    fn too_many_tiles_names_the_count_and_a_zoom_that_fits() {
        let aoi = rect_aoi(7.0, 43.5, 7.5, 44.0);
        let err = AreaPlan::new(&aoi, params(17)).unwrap_err();
        let Error::TooManyTiles { needed, limit, zoom, fits, bbox_only } = &err else { panic!("{err:?}") };
        assert_eq!((*limit, *zoom, *bbox_only), (10_000, 17, false));
        assert!(*needed > 10_000, "{needed}");
        let fits = fits.expect("a lower zoom fits");
        assert!(fits < 17);
        assert!(AreaPlan::new(&aoi, params(fits)).is_ok());
        assert!(AreaPlan::new(&aoi, params(fits + 1)).is_err());
        let text = err.to_string();
        assert!(text.contains(&needed.to_string()) && text.contains(&format!("zoom {fits}")), "{text}");
        // A box far beyond the limit is refused without testing every tile, also when
        // `maxTiles` is at its largest (a country at zoom 19: 10^10 tiles).
        let huge = rect_aoi(-10.0, 35.0, 20.0, 60.0);
        for max_tiles in [10_000, crate::api::options::MAX_TILES_LIMIT] {
            let err = AreaPlan::new(&huge, PlanParams { max_tiles, ..params(19) }).unwrap_err();
            assert!(matches!(err, Error::TooManyTiles { bbox_only: true, .. }), "{err:?}");
            assert!(err.to_string().contains("bounding box"), "{err}");
        }
    }

    #[test]
    fn open_regions_cover_later_windows_and_reach_out_past_the_border() {
        let aoi = rect_aoi(7.40, 43.72, 7.4268, 43.7355);
        let plan = AreaPlan::new(&aoi, params(19)).unwrap();
        let n = plan.chunks.len();
        assert!(plan.open_regions(&vec![true; n]).is_empty());
        let first = |from: usize| (0..n).map(|k| k < from).collect::<Vec<bool>>();
        let inside = |r: &[f64; 4], w: &Window| {
            r[0] <= f64::from(w.x)
                && r[1] <= f64::from(w.y)
                && r[2] >= f64::from(w.x + w.width)
                && r[3] >= f64::from(w.y + w.height)
        };
        for from in 1..plan.chunks.len() {
            let open = plan.open_regions(&first(from));
            let rows_left = plan.chunks[from..].iter().map(|c| c.row).collect::<std::collections::BTreeSet<_>>().len();
            assert_eq!(open.len(), rows_left, "one rectangle per row left, from chunk {from}");
            // Every later window is inside one of them; no earlier chunk's window is.
            for c in &plan.chunks[from..] {
                for w in &c.windows {
                    assert!(open.iter().any(|r| inside(r, &w.window)), "chunk {from}: {w:?} is not covered");
                }
            }
            for c in &plan.chunks[..from] {
                for w in &c.windows {
                    assert!(!open.iter().any(|r| inside(r, &w.window)), "chunk {from}: {w:?} is still open");
                }
            }
        }
        // The last row's rectangle reaches past the right, left and bottom borders.
        let open = plan.open_regions(&first(1));
        let last = open.last().unwrap();
        assert!(last[0].is_infinite() && last[2].is_infinite() && last[3].is_infinite() && last[1].is_finite());
        // Chunks done out of order (every other one, as a pool may finish them): each open
        // chunk's windows are covered, no done chunk's window is.
        let done: Vec<bool> = (0..n).map(|k| k % 2 == 0).collect();
        let open = plan.open_regions(&done);
        for (k, c) in plan.chunks.iter().enumerate() {
            for w in &c.windows {
                let covered = open.iter().any(|r| inside(r, &w.window));
                assert_eq!(covered, !done[k], "chunk {k} (done: {}): {w:?}", done[k]);
            }
        }
    }
}
