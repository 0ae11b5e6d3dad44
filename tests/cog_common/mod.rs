//! What the integration tests share: a file in memory as a [`RangeRead`] that records its
//! reads, and the truth `tests/make_cogs.py` wrote with rasterio and pyproj.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cell::RefCell;
use std::rc::Rc;

use geodetect::imagery::cog::{Cog, CogError, ReadOptions};
use geodetect::tiles::fetch::{FetchAttemptError, RangeBytes, RangeRead};

pub const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/.cache/cog");

/// A file in memory; its reads, a version and failures to serve are shared with the test.
#[derive(Clone, Default)]
pub struct Memory {
    pub bytes: Rc<Vec<u8>>,
    pub reads: Rc<RefCell<Vec<(u64, usize)>>>,
    /// The version each read reports; the reads after `change_after` report `"v2"`.
    pub version: Option<String>,
    pub change_after: Option<usize>,
    pub fail_next: Rc<RefCell<Vec<FetchAttemptError>>>,
    /// Answers the read with this index with only half the bytes.
    pub cut_read: Option<usize>,
}

impl Memory {
    pub fn new(bytes: Vec<u8>) -> Self {
        Memory { bytes: Rc::new(bytes), ..Memory::default() }
    }

    pub fn file(name: &str) -> Self {
        let path = format!("{DATA}/{name}");
        let bytes = std::fs::read(&path).unwrap_or_else(|e| {
            panic!("{path}: {e}; make the test COGs with tests/data/prepare.sh (tests/data/make_cogs.py)")
        });
        Self::new(bytes)
    }

    pub fn count(&self) -> usize {
        self.reads.borrow().len()
    }
}

impl RangeRead for Memory {
    async fn read(&self, offset: u64, length: usize) -> Result<RangeBytes, FetchAttemptError> {
        let n = self.reads.borrow().len();
        self.reads.borrow_mut().push((offset, length));
        if let Some(e) = self.fail_next.borrow_mut().pop() {
            return Err(e);
        }
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(self.bytes.len());
        let mut end = start.saturating_add(length).min(self.bytes.len());
        if self.cut_read == Some(n) {
            end = start + (end - start) / 2;
        }
        let version = match (self.change_after, &self.version) {
            (Some(after), Some(_)) if n >= after => Some("v2".to_owned()),
            (_, v) => v.clone(),
        };
        Ok(RangeBytes { bytes: self.bytes[start..end].to_vec(), version })
    }
}

pub fn block_on<F: Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

pub fn open(memory: &Memory) -> Result<Cog<Memory>, CogError> {
    block_on(Cog::open(memory.clone()))
}

pub fn open_with(memory: &Memory, options: ReadOptions) -> Result<Cog<Memory>, CogError> {
    block_on(Cog::open_with(memory.clone(), options))
}

/// One line of variants.tsv.
#[derive(Debug, Clone)]
pub struct Variant {
    pub name: String,
    pub file: String,
    pub lossless: bool,
    pub levels: Vec<(u32, u32)>,
    pub samples: usize,
    pub epsg: u16,
    pub affine: [f64; 6],
    pub trees: String,
}

fn lines(name: &str) -> Vec<Vec<String>> {
    let path = format!("{DATA}/{name}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("{path}: {e}; make the test COGs with tests/data/prepare.sh (tests/data/make_cogs.py)")
    });
    text.lines().filter(|l| !l.is_empty()).map(|l| l.split('\t').map(str::to_owned).collect()).collect()
}

fn floats<const N: usize>(s: &str) -> [f64; N] {
    let v: Vec<f64> = s.split(' ').map(|x| x.parse().unwrap()).collect();
    v.try_into().unwrap()
}

pub fn variants() -> Vec<Variant> {
    lines("variants.tsv")
        .into_iter()
        .map(|f| Variant {
            name: f[0].clone(),
            file: f[1].clone(),
            lossless: f[2] == "1",
            levels: f[3]
                .split(',')
                .map(|wh| {
                    let (w, h) = wh.split_once('x').unwrap();
                    (w.parse().unwrap(), h.parse().unwrap())
                })
                .collect(),
            samples: f[4].parse().unwrap(),
            epsg: f[5].parse().unwrap(),
            affine: floats(&f[6]),
            trees: f[7].clone(),
        })
        .collect()
}

pub fn variant(name: &str) -> Variant {
    variants().into_iter().find(|v| v.name == name).unwrap_or_else(|| panic!("no variant {name}"))
}

/// rasterio's affine of `name`'s `level`.
pub fn level_affine(name: &str, level: usize) -> [f64; 6] {
    let rows = lines("affines.tsv");
    let row = rows.iter().find(|r| r[0] == name && r[1] == level.to_string()).unwrap();
    floats(&row[2])
}

/// A labelled tree: its box centre in the original image's pixels, its lon/lat, and where that
/// lon/lat is in the variant's own grid.
#[derive(Debug, Clone, Copy)]
pub struct Tree {
    pub cx: f64,
    pub cy: f64,
    pub lon: f64,
    pub lat: f64,
    pub px: f64,
    pub py: f64,
}

pub fn trees(table: &str) -> Vec<Tree> {
    lines(table)
        .into_iter()
        .map(|f| {
            let v: Vec<f64> = f.iter().map(|x| x.parse().unwrap()).collect();
            Tree { cx: v[0], cy: v[1], lon: v[2], lat: v[3], px: v[4], py: v[5] }
        })
        .collect()
}

/// rasterio's decode of `name`'s `level`: `samples` bytes a pixel.
pub fn truth_pixels(name: &str, level: usize) -> Vec<u8> {
    let path = format!("{DATA}/{name}.L{level}.rgb");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}
