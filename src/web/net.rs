//! The worker's tile network, shared by every run and the chunk loaded ahead: where one tile's
//! body comes from (the memory cache, the Cache Storage cache, a download already in flight,
//! or a new request through the host's gate), files read in pieces (PMTiles archives, COGs)
//! opened once, and what the server's answer means (an empty tile, an image, or a page that is
//! not one: [`not_an_image`]).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use js_sys::Uint8Array;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, Cache, Response};

use super::encoded::Encoded;
use super::error::describe;
use super::global::Global;
use super::http::{TileBody, get_range, get_tile, header};
use super::tile_cache::TileCache;
use super::timer;
use crate::imagery::cog::CogSource;
use crate::tiles::fetch::{FetchAttemptError, FetchPolicy, HostGate, InFlight, RangeBytes, RangeRead, host_of, retry};
use crate::tiles::pmtiles::Archive;
use crate::tiles::{TileId, TileSource};
use crate::{Error, Result};

/// A tile's body: an encoded image, or nothing (the source says there is no imagery there).
#[derive(Debug, Clone)]
pub enum Body {
    /// The encoded image, on the JS side.
    Image(Encoded),
    /// No imagery: drawn as nothing.
    Empty,
}

/// Where [`TileNet::load`] found a tile's body.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Origin {
    /// The memory cache, the Cache Storage cache, or a download another load started.
    Cache,
    /// A download of this load's own, of this many bytes.
    Network(u64),
}

type Shared = Result<Body, FetchAttemptError>;

/// The worker's tile network (see the module).
#[derive(Debug)]
pub struct TileNet {
    /// Tile bodies downloaded lately (`fetch.cacheBytes`).
    pub cache: TileCache,
    gate: Rc<HostGate>,
    downloads: InFlight<String, Shared>,
    archives: Files<Archive<HttpRange>>,
    cogs: Files<CogSource<HttpRange>>,
    storage: RefCell<Option<(String, Cache)>>,
}

/// Files of one kind read in pieces, opened once per worker: those open, and those opening
/// (callers at the same time share one open).
#[derive(Debug)]
struct Files<T> {
    open: RefCell<HashMap<String, Rc<T>>>,
    opening: InFlight<String, Result<Rc<T>, FetchAttemptError>>,
}

impl<T: 'static> Default for Files<T> {
    fn default() -> Self {
        Files { open: RefCell::default(), opening: InFlight::new() }
    }
}

/// What one load needs besides the tile: the page, the policy and the run's signal.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub global: &'a Global,
    pub policy: &'a FetchPolicy,
    pub signal: Option<&'a AbortSignal>,
    pub source: &'a TileSource,
}

impl TileNet {
    /// A network with a memory cache of `cache_bytes`.
    pub fn new(cache_bytes: u64) -> Self {
        TileNet {
            cache: TileCache::new(cache_bytes),
            gate: Rc::default(),
            downloads: InFlight::new(),
            archives: Files::default(),
            cogs: Files::default(),
            storage: RefCell::default(),
        }
    }

    /// The PMTiles archive at `url`, opened once per worker (header and root directory in one
    /// range request, retried like a tile; again once a read found the file replaced), and
    /// checked to serve `zoom`. Fails with
    /// [`Error::TileFetchFailed`] (for `first`, the run's first tile) when it cannot be read,
    /// [`Error::ZoomOutOfRange`] when it has no such zoom.
    pub async fn archive(&self, req: Request<'_>, url: &str, first: TileId) -> Result<Rc<Archive<HttpRange>>> {
        let archive =
            self.open_once(&self.archives, req, url, Archive::open, Archive::is_stale).await.map_err(|e| {
                let reason = format!("the PMTiles archive {url} could not be opened: {}", e.reason());
                Error::TileFetchFailed { z: first.z, x: first.x, y: first.y, reason: req.source.redact(&reason) }
            })?;
        let (min, max) = archive.zoom_range();
        if !(min..=max).contains(&first.z) {
            return Err(Error::ZoomOutOfRange { zoom: first.z.into(), min, max });
        }
        Ok(archive)
    }

    /// The COG at `url`, opened once per worker (its header in as few range requests as the
    /// file allows, retried like a tile; again once a read found the file replaced). Fails
    /// with [`Error::TileFetchFailed`] (for tile 0/0/0, the first of the full resolution)
    /// saying why it cannot be read or run on.
    pub async fn cog(&self, req: Request<'_>, url: &str) -> Result<Rc<CogSource<HttpRange>>> {
        self.open_once(&self.cogs, req, url, CogSource::open, CogSource::is_stale).await.map_err(|e| {
            let reason = format!("the COG {url} could not be opened: {}", e.reason());
            Error::TileFetchFailed { z: 0, x: 0, y: 0, reason: req.source.redact(&reason) }
        })
    }

    /// The COG at `url`, if this worker has it open.
    pub fn open_cog(&self, url: &str) -> Option<Rc<CogSource<HttpRange>>> {
        self.cogs.open.borrow().get(url).cloned()
    }

    /// The file at `url` from `files`, or opened now with `open` over HTTP range requests
    /// through the host's gate, retried by the policy; a file found `stale` is opened again.
    async fn open_once<T: 'static, Fut>(
        &self,
        files: &Files<T>,
        req: Request<'_>,
        url: &str,
        open: fn(HttpRange) -> Fut,
        stale: fn(&T) -> bool,
    ) -> Result<Rc<T>, FetchAttemptError>
    where
        Fut: Future<Output = Result<T, FetchAttemptError>> + 'static,
    {
        if let Some(file) = files.open.borrow().get(url).filter(|f| !stale(f)).cloned() {
            return Ok(file);
        }
        let reader = HttpRange {
            global: req.global.clone(),
            url: url.to_owned(),
            gate: self.gate.clone(),
            policy: req.policy.clone(),
        };
        let policy = req.policy.clone();
        let opening = || async move {
            let attempt = |_| open(reader.clone());
            let sleep = gloo_timers::future::TimeoutFuture::new;
            match retry(&policy, 0, attempt, &sleep, &|| false).await {
                Ok(Ok(file)) => Ok(Rc::new(file)),
                Ok(Err(failed)) => {
                    Err(FetchAttemptError::Permanent(format!("{} (attempts made: {})", failed.reason, failed.attempts)))
                }
                Err(e) => Err(FetchAttemptError::Permanent(e.to_string())),
            }
        };
        let (opened, _) = files.opening.run(url.to_owned(), opening).await;
        let file = opened?;
        files.open.borrow_mut().insert(url.to_owned(), file.clone());
        Ok(file)
    }

    /// `tile`'s body and where it came from. `archive` is the source's opened archive, for a
    /// PMTiles source. Failures carry the source's secrets redacted.
    pub async fn load(
        &self,
        req: Request<'_>,
        archive: Option<&Rc<Archive<HttpRange>>>,
        tile: TileId,
    ) -> Result<(Body, Origin), FetchAttemptError> {
        let key = req.source.tile_url(&tile);
        if let Some(image) = self.cache.get(&key) {
            return Ok((Body::Image(image), Origin::Cache));
        }
        if archive.is_none()
            && let Some(image) = self.stored(req, &key).await
        {
            self.cache.put(key, &image);
            return Ok((Body::Image(image), Origin::Cache));
        }
        let start = {
            let (global, gate, source) = (req.global.clone(), self.gate.clone(), req.source.clone());
            let (policy, signal, archive, url) =
                (req.policy.clone(), req.signal.cloned(), archive.cloned(), key.clone());
            move || async move {
                let fetched = match archive {
                    Some(archive) => match archive.tile(tile).await {
                        Ok(Some(bytes)) => Ok(Body::Image(Encoded::copy_of(&bytes, ""))),
                        Ok(None) => Ok(Body::Empty),
                        Err(e) => Err(e),
                    },
                    None => download(&global, &gate, &policy, signal.as_ref(), &source, &url).await,
                };
                fetched.map_err(|e| e.redacted(|reason| source.redact(reason)))
            }
        };
        let (body, shared) = self.downloads.run(key.clone(), start).await;
        let body = body?;
        if shared {
            return Ok((body, Origin::Cache));
        }
        let size = match &body {
            Body::Image(image) => {
                self.cache.put(key, image);
                image.size()
            }
            Body::Empty => 0,
        };
        Ok((body, Origin::Network(size)))
    }

    /// Keep a downloaded tile's body in the Cache Storage cache (`fetch.cacheName`), once it
    /// decoded. In the background: a failure only means it is downloaded again next time.
    pub fn persist(&self, req: Request<'_>, tile: TileId, image: &Encoded) {
        let Some(name) = req.policy.cache_name.clone() else { return };
        if req.source.pmtiles_url().is_some() || req.source.cog_url().is_some() {
            return;
        }
        // The tile's URL with the source's secrets redacted: no key is written to disk.
        let (global, key, image) = (req.global.clone(), req.source.redact(&req.source.tile_url(&tile)), image.clone());
        let cache = self.storage.borrow().as_ref().filter(|(n, _)| *n == name).map(|(_, c)| c.clone());
        wasm_bindgen_futures::spawn_local(async move {
            let Some(cache) = (match cache {
                Some(cache) => Some(cache),
                None => open_storage(&global, &name).await,
            }) else {
                return;
            };
            // A `Blob` of the image's type: the stored response's `Content-Type` is that type.
            let Ok(response) = image.blob().and_then(|blob| Response::new_with_opt_blob(Some(&blob))) else { return };
            if let Err(e) = JsFuture::from(cache.put_with_str(&key, &response)).await {
                web_sys::console::warn_1(
                    &format!("geodetect: could not keep a tile in Cache Storage: {}", describe(&e)).into(),
                );
            }
        });
    }

    /// The tile's body from the Cache Storage cache, if `fetch.cacheName` is set and has it.
    async fn stored(&self, req: Request<'_>, key: &str) -> Option<Encoded> {
        let name = req.policy.cache_name.as_ref()?;
        let current = self.storage.borrow().as_ref().filter(|(n, _)| n == name).map(|(_, c)| c.clone());
        let cache = match current {
            Some(cache) => cache,
            None => {
                let cache = open_storage(req.global, name).await?;
                *self.storage.borrow_mut() = Some((name.clone(), cache.clone()));
                cache
            }
        };
        let hit = JsFuture::from(cache.match_with_str(&req.source.redact(key))).await.ok()?;
        let response: Response = hit.dyn_into().ok()?;
        let kind = header(&response.headers(), "Content-Type").unwrap_or_default();
        let bytes = JsFuture::from(response.array_buffer().ok()?).await.ok()?;
        Some(Encoded::new(Uint8Array::new(&bytes), &kind))
    }
}

async fn open_storage(global: &Global, name: &str) -> Option<Cache> {
    let caches = global.caches()?;
    JsFuture::from(caches.open(name)).await.ok().map(JsCast::unchecked_into)
}

/// Why a tile's body did not decode, naming what the server said it was when that is text
/// (an HTML error or login page sent with HTTP 200, an XML exception): never retried.
pub fn not_an_image(image: &Encoded, reason: &str) -> FetchAttemptError {
    let kind = &image.kind;
    FetchAttemptError::Permanent(if kind.starts_with("text/") || kind.contains("xml") {
        format!(
            "not a decodable image: the server answered HTTP 200 with `{kind}`, not an image (often an error or login page)"
        )
    } else {
        format!("not a decodable image: {reason}")
    })
}

/// One request for a URL-addressed tile through the host's gate: HTTP 204, and 404 where the
/// source says so, are an empty tile.
async fn download(
    global: &Global,
    gate: &HostGate,
    policy: &FetchPolicy,
    signal: Option<&AbortSignal>,
    source: &TileSource,
    url: &str,
) -> Result<Body, FetchAttemptError> {
    let got = through_gate(gate, global, policy, url, signal, get_tile(global, url, policy.timeout_ms, signal)).await;
    match got {
        Ok(TileBody { status: 204, .. }) => Ok(Body::Empty),
        Ok(TileBody { body, .. }) => Ok(Body::Image(body)),
        Err(FetchAttemptError::Permanent(reason)) if source.not_found_is_empty && reason.starts_with("HTTP 404") => {
            Ok(Body::Empty)
        }
        Err(e) => Err(e),
    }
}

/// `request` sent through the host gate of `url`: once the host has a free slot and is not
/// paused; the slot is given back when it settles, and an answer asking for a pause pauses
/// the host. Aborting `signal` ends the wait for the host at once (the request is not sent).
async fn through_gate<T>(
    gate: &HostGate,
    global: &Global,
    policy: &FetchPolicy,
    url: &str,
    signal: Option<&AbortSignal>,
    request: impl Future<Output = Result<T, FetchAttemptError>>,
) -> Result<T, FetchAttemptError> {
    let host = host_of(url);
    let now = || global.now_ms();
    let sleep = |ms| timer::sleep(ms, signal);
    let aborted = || signal.is_some_and(AbortSignal::aborted);
    let Some(permit) = gate.acquire(&host, policy.per_host, &now, &sleep, &aborted).await else {
        return Err(FetchAttemptError::Permanent("aborted while waiting for the host".to_owned()));
    };
    let got = request.await;
    drop(permit);
    if let Err(e) = &got {
        pause_if_asked(gate, &host, policy, e, now());
    }
    got
}

/// A host that asked for a pause (`Retry-After`) no longer than the policy honours gets it:
/// this worker sends it nothing until then. A longer one is not honoured: the tile that met it
/// gives up (see [`crate::tiles::fetch::retry`]), and the host's other tiles go on.
fn pause_if_asked(gate: &HostGate, host: &str, policy: &FetchPolicy, e: &FetchAttemptError, now: f64) {
    if let FetchAttemptError::Throttled { retry_after_ms, .. } = e
        && *retry_after_ms <= policy.max_retry_after_ms
    {
        gate.pause(host, now + f64::from(*retry_after_ms));
    }
}

/// A file's byte ranges over HTTP, through the host's gate (the [`RangeRead`] of a PMTiles
/// or COG source in the browser). Each read is bounded by `timeoutMs`; retries are the
/// tile's.
#[derive(Debug, Clone)]
pub struct HttpRange {
    global: Global,
    url: String,
    gate: Rc<HostGate>,
    policy: FetchPolicy,
}

impl RangeRead for HttpRange {
    async fn read(&self, offset: u64, length: usize) -> Result<RangeBytes, FetchAttemptError> {
        let request = get_range(&self.global, &self.url, offset, length, self.policy.timeout_ms, None);
        // The archive or COG is shared by every run of the worker: no run's signal applies.
        let (bytes, version) = through_gate(&self.gate, &self.global, &self.policy, &self.url, None, request).await?;
        Ok(RangeBytes { bytes, version })
    }
}
