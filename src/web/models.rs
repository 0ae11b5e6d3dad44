//! The manifest and weights over HTTP, weights kept in the Cache API.
//!
//! Weights are verified against the manifest's SHA-256 before anything parses them, also
//! when they come from the cache (a corrupted entry is dropped and fetched again), hashed
//! once, by the browser's `crypto.subtle` where it exists (Rust's SHA-256 compiled to wasm
//! took 70 ms for the 6 MB of YOLOv8n weights, most of a cached load). The cache key carries
//! the hash, so new weights under the same file name never hit a stale entry.

use js_sys::Uint8Array;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Cache, Response};

use super::error::describe;
use super::global::Global;
use super::http::get_bytes;
use crate::model::{Manifest, ModelEntry, VerifiedWeights};
use crate::tiles::fetch::{FetchPolicy, retry};
use crate::{Error, Result};

/// Name of the Cache API cache holding weights.
pub const CACHE_NAME: &str = "geodetect-models-v1";
/// Retries and time limit for the manifest and weights (weights can be tens of MB).
const DOWNLOAD: FetchPolicy = FetchPolicy {
    concurrency: 1,
    per_host: 1,
    timeout_ms: 120_000,
    retries: 2,
    retry_delay_ms: 500,
    max_retry_after_ms: 30_000,
    cache_bytes: 0,
    cache_name: None,
};

/// `base` joined with a file name.
pub fn join(base: &str, file: &str) -> String {
    if base.ends_with('/') { format!("{base}{file}") } else { format!("{base}/{file}") }
}

/// GET with [`DOWNLOAD`]'s retries and backoff, through the tile scheduler's [`retry`].
async fn download(global: &Global, url: &str) -> Result<Vec<u8>> {
    let attempt = |_| get_bytes(global, url, DOWNLOAD.timeout_ms, None);
    retry(&DOWNLOAD, 0, attempt, &gloo_timers::future::TimeoutFuture::new, &|| false).await?.map_err(|failed| {
        Error::ModelLoad(format!("could not download {url} ({} attempt(s)): {}", failed.attempts, failed.reason))
    })
}

/// Fetch and parse `<base>/manifest.json`.
pub async fn fetch_manifest(global: &Global, base: &str) -> Result<Manifest> {
    let url = join(base, "manifest.json");
    let bytes = download(global, &url).await?;
    let text = String::from_utf8(bytes).map_err(|_| Error::ModelLoad(format!("{url} is not UTF-8 text")))?;
    // Which manifest, for every problem with it (an HTML error page served as the manifest).
    Manifest::from_json(&text).map_err(|e| match e {
        Error::ModelLoad(reason) => Error::ModelLoad(format!("{url}: {reason}")),
        other => other,
    })
}

async fn open_cache(global: &Global) -> Option<Cache> {
    let caches = global.caches()?;
    JsFuture::from(caches.open(CACHE_NAME)).await.ok().map(JsCast::unchecked_into)
}

/// The body of the cache entry `key`, as the browser holds it.
async fn cached(cache: &Cache, key: &str) -> Option<Uint8Array> {
    let hit = JsFuture::from(cache.match_with_str(key)).await.ok()?;
    let response: Response = hit.dyn_into().ok()?;
    let body = JsFuture::from(response.array_buffer().ok()?).await.ok()?;
    Some(Uint8Array::new(&body))
}

/// Starts the SHA-256 digest of `data` by `crypto.subtle`; `None` where the browser does not
/// offer it (insecure contexts). `data` must not be a view of the threaded engine's shared
/// memory (`digest` refuses those).
fn start_sha256(global: &Global, data: &Uint8Array) -> Option<JsFuture> {
    let subtle = global.subtle_crypto()?;
    Some(JsFuture::from(subtle.digest_with_str_and_buffer_source("SHA-256", data).ok()?))
}

/// Verify `bytes` against `entry` with the digest `started` on a copy of them, or, where the
/// browser could not hash them, with Rust's SHA-256.
async fn verify_with(entry: &ModelEntry, bytes: Vec<u8>, started: Option<JsFuture>) -> Result<VerifiedWeights> {
    let digest = match started {
        Some(digest) => digest.await.ok().map(|d| Uint8Array::new(&d).to_vec()),
        None => None,
    };
    match digest {
        Some(sha256) => entry.verify_digest(bytes, &sha256),
        None => entry.verify(bytes),
    }
}

/// Verify `bytes` against `entry`, hashed by the browser where it can (from a copy outside
/// wasm memory).
async fn verify(global: &Global, entry: &ModelEntry, bytes: Vec<u8>) -> Result<VerifiedWeights> {
    let started = start_sha256(global, &Uint8Array::from(bytes.as_slice()));
    verify_with(entry, bytes, started).await
}

/// [`verify`] for bytes the browser holds (a cached body): the browser hashes them where
/// they are while they are copied into wasm memory.
async fn verify_js(global: &Global, entry: &ModelEntry, data: &Uint8Array) -> Result<VerifiedWeights> {
    let started = start_sha256(global, data);
    verify_with(entry, data.to_vec(), started).await
}

/// Weights of `entry`, verified; `true` when they came from the cache.
pub async fn fetch_weights(
    global: &Global,
    base: &str,
    entry: &ModelEntry,
    use_cache: bool,
) -> Result<(VerifiedWeights, bool)> {
    let url = join(base, &entry.weights.file);
    let key = format!("{url}?sha256={}", entry.weights.sha256);
    let cache = if use_cache { open_cache(global).await } else { None };
    if let Some(cache) = &cache
        && let Some(body) = cached(cache, &key).await
    {
        if let Ok(weights) = verify_js(global, entry, &body).await {
            return Ok((weights, true));
        }
        let _ = JsFuture::from(cache.delete_with_str(&key)).await;
    }
    let weights = verify(global, entry, download(global, &url).await?).await?;
    if let Some(cache) = &cache {
        let stored = match Response::new_with_opt_u8_array(Some(&mut weights.bytes().to_vec())) {
            Ok(response) => JsFuture::from(cache.put_with_str(&key, &response)).await.map(drop),
            Err(e) => Err(e),
        };
        if let Err(e) = stored {
            web_sys::console::warn_1(&format!("geodetect: could not cache {url}: {}", describe(&e)).into());
        }
    }
    Ok((weights, false))
}
