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
use crate::tiles::fetch::FetchAttemptError;
use crate::{Error, Result};

/// Name of the Cache API cache holding weights.
pub const CACHE_NAME: &str = "geodetect-models-v1";
/// Generous limits for a weights download (they can be tens of MB).
const TIMEOUT_MS: u32 = 120_000;
const ATTEMPTS: u32 = 3;

/// `base` joined with a file name.
pub fn join(base: &str, file: &str) -> String {
    if base.ends_with('/') { format!("{base}{file}") } else { format!("{base}/{file}") }
}

async fn download(global: &Global, url: &str) -> Result<Vec<u8>> {
    let mut last = String::new();
    for attempt in 0..ATTEMPTS {
        match get_bytes(global, url, TIMEOUT_MS, None).await {
            Ok(bytes) => return Ok(bytes),
            Err(FetchAttemptError::Retryable(why)) => {
                last = why;
                gloo_timers::future::TimeoutFuture::new(500 << attempt).await;
            }
            Err(FetchAttemptError::Permanent(why)) => {
                return Err(Error::ModelLoad(format!("could not download {url}: {why}")));
            }
        }
    }
    Err(Error::ModelLoad(format!("could not download {url} after {ATTEMPTS} attempts: {last}")))
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
pub async fn fetch_weights(global: &Global, base: &str, entry: &ModelEntry, use_cache: bool) -> Result<(Vec<u8>, bool)> {
    let url = join(base, &entry.weights.file);
    let key = format!("{url}?sha256={}", entry.weights.sha256);
    let cache = if use_cache { open_cache(global).await } else { None };
    if let Some(cache) = &cache {
        if let Some(bytes) = cached(cache, &key).await {
            if entry.verify(&bytes).is_ok() {
                return Ok((bytes, true));
            }
            let _ = JsFuture::from(cache.delete_with_str(&key)).await;
        }
    }
    let bytes = download(global, &url).await?;
    entry.verify(&bytes)?;
    if let Some(cache) = &cache {
        let stored = Response::new_with_opt_u8_array(Some(&mut bytes.clone()))
            .map(|response| cache.put_with_str(&key, &response));
        match stored {
            Ok(promise) => {
                if let Err(e) = JsFuture::from(promise).await {
                    web_sys::console::warn_1(&format!("geodetect: could not cache {url}: {}", describe(&e)).into());
                }
            }
            Err(e) => web_sys::console::warn_1(&format!("geodetect: could not cache {url}: {}", describe(&e)).into()),
        }
    }
    Ok((bytes, false))
}
