//! Any bytes as a Cloud-Optimized GeoTIFF read by ranges: `CogSource::open` (the TIFF
//! header and IFD chain over sparse reads, GeoKeys, the affine, the CRS by EPSG code, every
//! level as a pixel grid), then each level's first tile read, decoded, and its corner
//! georeferenced. What opens must have levels whose tiles have their size when decoded.
#![no_main]

use futures::executor::block_on;
use geodetect::imagery::Grid;
use geodetect::imagery::cog::CogSource;
use geodetect::tiles::TileId;
use geodetect_fuzz::Memory;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = block_on(CogSource::open(Memory(data.to_vec()))) else { return };
    assert!(!source.levels().is_empty(), "a COG without levels opened");
    for grid in source.levels().iter().take(4) {
        let tile = TileId { z: grid.level, x: 0, y: 0 };
        let [lon, lat] = Grid::Image(*grid).pixel_to_lonlat(0.0, 0.0);
        let _ = Grid::Image(*grid).lonlat_to_pixel(lon, lat);
        let Ok(bytes) = block_on(source.tile(tile)) else { continue };
        if let Ok(image) = source.decode(tile, &bytes) {
            // Tile (0, 0), cropped to the image at its right and bottom edges.
            let want = (grid.tile_size.min(grid.width), grid.tile_size.min(grid.height));
            assert_eq!((image.width, image.height), want, "{grid:?}");
            assert_eq!(image.data.len(), image.width as usize * image.height as usize * 4);
        }
    }
});
