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
use super::http::get_body;
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

/// GET with [`DOWNLOAD`]'s retries and backoff, through the tile scheduler's [`retry`]; the
/// body stays on the JS side.
async fn download(global: &Global, url: &str) -> Result<Uint8Array> {
    let attempt = |_| get_body(global, url, DOWNLOAD.timeout_ms, None);
    retry(&DOWNLOAD, 0, attempt, &gloo_timers::future::TimeoutFuture::new, &|| false).await?.map_err(|failed| {
        Error::ModelLoad(format!("could not download {url} ({} attempt(s)): {}", failed.attempts, failed.reason))
    })
}

/// Fetch and parse `<base>/manifest.json`.
pub async fn fetch_manifest(global: &Global, base: &str) -> Result<Manifest> {
    let url = join(base, "manifest.json");
    let bytes = download(global, &url).await?.to_vec();
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

/// Verify the weights `data` (a body the browser holds) against `entry`: hashed by
/// `crypto.subtle` where they are, while they are copied into wasm memory, or by Rust's
/// SHA-256 where the browser cannot (insecure contexts).
async fn verify(global: &Global, entry: &ModelEntry, data: &Uint8Array) -> Result<VerifiedWeights> {
    let digest = global
        .subtle_crypto()
        .and_then(|subtle| subtle.digest_with_str_and_buffer_source("SHA-256", data).ok())
        .map(JsFuture::from);
    let bytes = data.to_vec();
    let sha256 = match digest {
        Some(digest) => digest.await.ok().map(|d| Uint8Array::new(&d).to_vec()),
        None => None,
    };
    match sha256 {
        Some(sha256) => entry.verify_digest(bytes, &sha256),
        None => entry.verify(bytes),
    }
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
        if let Ok(weights) = verify(global, entry, &body).await {
            return Ok((weights, true));
        }
        let _ = JsFuture::from(cache.delete_with_str(&key)).await;
    }
    let body = download(global, &url).await?;
    let weights = verify(global, entry, &body).await?;
    if let Some(cache) = &cache {
        let stored = match Response::new_with_opt_buffer_source(Some(&body)) {
            Ok(response) => JsFuture::from(cache.put_with_str(&key, &response)).await.map(drop),
            Err(e) => Err(e),
        };
        if let Err(e) = stored {
            web_sys::console::warn_1(&format!("geodetect: could not cache {url}: {}", describe(&e)).into());
        }
    }
    Ok((weights, false))
}
