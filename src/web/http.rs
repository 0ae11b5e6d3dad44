//! One HTTP GET with a time limit and the caller's AbortSignal, classified for retries
//! (`Retry-After` read where the browser shows it); the body as bytes in wasm memory, or a
//! tile's left on the JS side ([`Encoded`]); a byte range of a file (`Range`, answered with
//! 206).

use gloo::events::EventListener;
use gloo::timers::callback::Timeout;
use js_sys::Uint8Array;
use std::cell::Cell;
use std::rc::Rc;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, AbortSignal, Headers, Request, RequestInit, Response};

use super::encoded::Encoded;
use super::error::describe;
use super::global::Global;
use crate::tiles::fetch::{FetchAttemptError, MAX_TILE_BYTES};

/// GET `url` and return the body, left on the JS side. Network errors and timeouts are
/// retryable; HTTP errors are classified by status (404 permanent, 5xx/429 retryable).
pub async fn get_body(
    global: &Global,
    url: impl AsRef<str>,
    timeout_ms: u32,
    cancel: Option<&AbortSignal>,
) -> Result<Uint8Array, FetchAttemptError> {
    let got = get(global, url.as_ref(), Ask::Whole, timeout_ms, cancel).await?;
    Ok(Uint8Array::new(&got.body))
}

/// A tile's response: its body (empty for HTTP 204) and status.
#[derive(Debug)]
pub struct TileBody {
    /// The body, left on the JS side, typed by the `Content-Type`.
    pub body: Encoded,
    /// The HTTP status (200 or 204).
    pub status: u16,
}

/// GET a tile: its body left on the JS side, and the status (204: no content). A body over
/// [`MAX_TILE_BYTES`] fails permanently: before it is read when the server sends its
/// `Content-Length`, after otherwise.
pub async fn get_tile(
    global: &Global,
    url: &str,
    timeout_ms: u32,
    cancel: Option<&AbortSignal>,
) -> Result<TileBody, FetchAttemptError> {
    let got = get(global, url, Ask::Tile, timeout_ms, cancel).await?;
    let body = Encoded::new(Uint8Array::new(&got.body), got.kind.as_deref().unwrap_or_default());
    if body.size() > MAX_TILE_BYTES {
        return Err(too_large(body.size()));
    }
    Ok(TileBody { body, status: got.status })
}

/// A tile body over [`MAX_TILE_BYTES`].
fn too_large(bytes: u64) -> FetchAttemptError {
    FetchAttemptError::Permanent(format!(
        "the tile is {bytes} bytes, more than the {} MiB a tile may have; is the URL a tile's?",
        MAX_TILE_BYTES >> 20
    ))
}

/// What [`get`] asks for.
#[derive(Debug, Clone, Copy)]
enum Ask {
    /// The whole body.
    Whole,
    /// A tile: the whole body, refused past [`MAX_TILE_BYTES`].
    Tile,
    /// Bytes `offset..offset + length` (a `Range` request, answered with 206).
    Range(u64, usize),
}

/// Bytes `offset..offset + length` of the file at `url` (a `Range` request), and its `ETag`
/// where the browser shows it. A server that answers with the whole file (HTTP 200) fails
/// permanently, before its body is read: reading an archive that way would download all of it
/// for every tile.
pub async fn get_range(
    global: &Global,
    url: &str,
    offset: u64,
    length: usize,
    timeout_ms: u32,
    cancel: Option<&AbortSignal>,
) -> Result<(Vec<u8>, Option<String>), FetchAttemptError> {
    let got = get(global, url, Ask::Range(offset, length), timeout_ms, cancel).await?;
    Ok((Uint8Array::new(&got.body).to_vec(), got.etag))
}

/// What [`get`] read.
struct Got {
    body: JsValue,
    status: u16,
    etag: Option<String>,
    /// The `Content-Type`.
    kind: Option<String>,
}

/// The header `name` of `headers`, where the browser shows it.
pub fn header(headers: &Headers, name: &str) -> Option<String> {
    headers.get(name).ok().flatten()
}

/// The browser's wall clock, for a `Retry-After` given as a date.
fn wall_clock() -> std::time::SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_millis(js_sys::Date::now().max(0.0) as u64)
}

/// GET `url` and read its body (`Response.arrayBuffer`), within `timeout_ms` for the whole
/// exchange and stopping when `cancel` fires.
async fn get(
    global: &Global,
    url: &str,
    ask: Ask,
    timeout_ms: u32,
    cancel: Option<&AbortSignal>,
) -> Result<Got, FetchAttemptError> {
    let retryable = |what: String| FetchAttemptError::Retryable(what);
    let controller = AbortController::new().map_err(|e| retryable(describe(&e)))?;
    let timed_out = Rc::new(Cell::new(false));
    let _timeout = {
        let (controller, timed_out) = (controller.clone(), timed_out.clone());
        Timeout::new(timeout_ms, move || {
            timed_out.set(true);
            controller.abort();
        })
    };
    let _cancel = cancel.map(|signal| {
        let controller = controller.clone();
        EventListener::once(signal, "abort", move |_| controller.abort())
    });
    if cancel.is_some_and(|s| s.aborted()) {
        controller.abort();
    }

    let init = RequestInit::new();
    init.set_signal(Some(&controller.signal()));
    if let Ask::Range(offset, length) = ask {
        let headers = Headers::new().map_err(|e| retryable(describe(&e)))?;
        let last = offset.saturating_add(length.max(1) as u64 - 1);
        headers.set("Range", &format!("bytes={offset}-{last}")).map_err(|e| retryable(describe(&e)))?;
        init.set_headers(&headers);
    }
    let request = Request::new_with_str_and_init(url, &init)
        .map_err(|e| FetchAttemptError::Permanent(format!("invalid URL `{url}`: {}", describe(&e))))?;
    let failed = |e: JsValue| {
        if timed_out.get() {
            retryable(format!("no response within {timeout_ms} ms"))
        } else {
            retryable(format!("network error: {}", describe(&e)))
        }
    };
    let response: Response = JsFuture::from(global.fetch(&request)).await.map_err(failed)?.unchecked_into();
    let (status, headers) = (response.status(), response.headers());
    if !response.ok() {
        controller.abort();
        let retry_after = header(&headers, "Retry-After");
        return Err(FetchAttemptError::from_http_response(status, retry_after.as_deref(), wall_clock()));
    }
    if matches!(ask, Ask::Range(..)) && status != 206 {
        controller.abort();
        return Err(FetchAttemptError::Permanent(format!(
            "the server answered a range request with HTTP {status} and the whole file; a file read in pieces (a \
             PMTiles archive, a COG) needs a host that serves byte ranges (HTTP 206)"
        )));
    }
    let length = header(&headers, "Content-Length").and_then(|v| v.trim().parse::<u64>().ok());
    if let (Ask::Tile, Some(length)) = (ask, length)
        && length > MAX_TILE_BYTES
    {
        controller.abort();
        return Err(too_large(length));
    }
    let body = response.array_buffer().map_err(failed)?;
    let body = JsFuture::from(body).await.map_err(|e| {
        if timed_out.get() {
            retryable(format!("no whole response within {timeout_ms} ms"))
        } else {
            retryable(format!("the response was cut short: {}", describe(&e)))
        }
    })?;
    Ok(Got { body, status, etag: header(&headers, "ETag"), kind: header(&headers, "Content-Type") })
}
