//! Tile-range and window planning: any polygon the area parser accepts, at any zoom, window
//! size, overlap and chunk size → `AreaPlan::new`. A plan's chunks must lie in the area's
//! extent, their tiles in the grid, and its counts must add up.
#![no_main]

use geodetect::geojson::Aoi;
use geodetect::imagery::Grid;
use geodetect::pipeline::PlanParams;
use geodetect::pipeline::plan::AreaPlan;
use geodetect_fuzz::MAX_TILES;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

#[derive(Debug, Arbitrary)]
struct Input {
    /// Polygons of rings of (lon, lat) as small integers scaled around an origin, so that
    /// most inputs are areas of a few tiles rather than the whole world.
    origin: (i16, i16),
    scale: u8,
    polygons: Vec<Vec<Vec<(i8, i8)>>>,
    zoom: u8,
    tile_512: bool,
    input_1024: bool,
    overlap: u16,
    margin: u16,
    max_tiles: u16,
    chunk_windows: u8,
}

fuzz_target!(|input: Input| {
    let (ox, oy) = (f64::from(input.origin.0) / 182.0, f64::from(input.origin.1) / 386.0);
    let step = (f64::from(input.scale) + 1.0) * 1e-5;
    let polygons: Vec<Vec<Vec<[f64; 2]>>> = input
        .polygons
        .iter()
        .take(4)
        .map(|rings| {
            rings
                .iter()
                .take(3)
                .map(|ring| {
                    let mut r: Vec<[f64; 2]> = ring
                        .iter()
                        .take(64)
                        .map(|&(x, y)| [ox + f64::from(x) * step, oy + f64::from(y) * step])
                        .collect();
                    if let Some(&first) = r.first() {
                        r.push(first);
                    }
                    r
                })
                .collect()
        })
        .collect();
    let Ok(aoi) = Aoi::from_json(&json!({ "type": "MultiPolygon", "coordinates": polygons })) else { return };
    let grid = Grid::mercator(input.zoom % 25, if input.tile_512 { 512 } else { 256 });
    let input_size = if input.input_1024 { 1024 } else { 640 };
    let params = PlanParams {
        grid,
        input_size,
        overlap: u32::from(input.overlap % 1024),
        margin: u32::from(input.margin % 1024),
        max_tiles: u64::from(input.max_tiles).clamp(1, MAX_TILES),
        chunk_windows: 1 + usize::from(input.chunk_windows % 6),
    };
    let Ok(plan) = AreaPlan::new(&aoi, params) else { return };
    assert!(plan.tiles <= params.max_tiles, "{} tiles planned, limit {}", plan.tiles, params.max_tiles);
    assert_eq!(plan.windows, plan.chunks.iter().map(|c| c.windows.len()).sum::<usize>());
    assert_eq!(plan.tile_fetches, plan.chunks.iter().map(|c| c.tiles.len()).sum::<usize>());
    for chunk in &plan.chunks {
        assert!(!chunk.windows.is_empty(), "a chunk without windows is planned");
        for tile in &chunk.tiles {
            assert!(grid.has_tile(*tile), "tile {tile:?} outside the grid");
        }
        let (x0, y0) = chunk.offset;
        assert!(
            u64::from(x0) + u64::from(chunk.extent.width) <= u64::from(plan.extent.width)
                && u64::from(y0) + u64::from(chunk.extent.height) <= u64::from(plan.extent.height),
            "chunk {chunk:?} outside the area's extent {:?}",
            plan.extent
        );
    }
});
