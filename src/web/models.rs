//! The manifest and weights over HTTP, weights kept in the Cache API.
//!
//! Weights are verified against the manifest's SHA-256 before anything parses them, also
//! when they come from the cache (a corrupted entry is dropped and fetched again). The cache
//! key carries the hash, so new weights under the same file name never hit a stale entry.

use js_sys::Uint8Array;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Cache, Response};

use super::error::describe;
use super::global::Global;
use super::http::get_bytes;
use crate::model::{Manifest, ModelEntry};
use crate::tiles::fetch::{FetchPolicy, retry};
use crate::{Error, Result};

/// Name of the Cache API cache holding weights.
pub const CACHE_NAME: &str = "geodetect-models-v1";
/// Retries and time limit for the manifest and weights (weights can be tens of MB).
const DOWNLOAD: FetchPolicy = FetchPolicy { concurrency: 1, timeout_ms: 120_000, retries: 2, retry_delay_ms: 500 };

/// `base` joined with a file name.
pub fn join(base: &str, file: &str) -> String {
    if base.ends_with('/') { format!("{base}{file}") } else { format!("{base}/{file}") }
}

/// GET with [`DOWNLOAD`]'s retries and backoff, through the tile scheduler's [`retry`].
async fn download(global: &Global, url: &str) -> Result<Vec<u8>> {
    let attempt = |_| get_bytes(global, url, DOWNLOAD.timeout_ms, None);
    retry(&DOWNLOAD, attempt, &gloo_timers::future::TimeoutFuture::new, &|| false).await?.map_err(|failed| {
        Error::ModelLoad(format!("could not download {url} ({} attempt(s)): {}", failed.attempts, failed.reason))
    })
}

/// Fetch and parse `<base>/manifest.json`.
pub async fn fetch_manifest(global: &Global, base: &str) -> Result<Manifest> {
    let url = join(base, "manifest.json");
    let bytes = download(global, &url).await?;
    let text = String::from_utf8(bytes).map_err(|_| Error::ModelLoad(format!("{url} is not UTF-8 text")))?;
    Manifest::from_json(&text)
}

async fn open_cache(global: &Global) -> Option<Cache> {
    let caches = global.caches()?;
    JsFuture::from(caches.open(CACHE_NAME)).await.ok().map(JsCast::unchecked_into)
}

async fn cached(cache: &Cache, key: &str) -> Option<Vec<u8>> {
    let hit = JsFuture::from(cache.match_with_str(key)).await.ok()?;
    let response: Response = hit.dyn_into().ok()?;
    let body = JsFuture::from(response.array_buffer().ok()?).await.ok()?;
    Some(Uint8Array::new(&body).to_vec())
}

/// Weights of `entry`, verified; `true` when they came from the cache.
pub async fn fetch_weights(
    global: &Global,
    base: &str,
    entry: &ModelEntry,
    use_cache: bool,
) -> Result<(Vec<u8>, bool)> {
    let url = join(base, &entry.weights.file);
    let key = format!("{url}?sha256={}", entry.weights.sha256);
    let cache = if use_cache { open_cache(global).await } else { None };
    if let Some(cache) = &cache
        && let Some(bytes) = cached(cache, &key).await
    {
        if entry.verify(&bytes).is_ok() {
            return Ok((bytes, true));
        }
        let _ = JsFuture::from(cache.delete_with_str(&key)).await;
    }
    let bytes = download(global, &url).await?;
    entry.verify(&bytes)?;
    if let Some(cache) = &cache {
        let stored = match Response::new_with_opt_u8_array(Some(&mut bytes.clone())) {
            Ok(response) => JsFuture::from(cache.put_with_str(&key, &response)).await.map(drop),
            Err(e) => Err(e),
        };
        if let Err(e) = stored {
            web_sys::console::warn_1(&format!("geodetect: could not cache {url}: {}", describe(&e)).into());
        }
    }
    Ok((bytes, false))
}
