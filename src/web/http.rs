//! One HTTP GET with a time limit and the caller's AbortSignal, classified for retries; the
//! body as bytes in wasm memory or as a `Blob` left on the JS side.

use gloo::events::EventListener;
use gloo::timers::callback::Timeout;
use js_sys::{Promise, Uint8Array};
use std::cell::Cell;
use std::rc::Rc;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, AbortSignal, Blob, Request, RequestInit, Response};

use super::error::describe;
use super::global::Global;
use crate::tiles::fetch::FetchAttemptError;

/// GET `url` and return the body. Network errors and timeouts are retryable; HTTP errors
/// are classified by status (404 permanent, 5xx/429 retryable).
pub async fn get_bytes(
    global: &Global,
    url: impl AsRef<str>,
    timeout_ms: u32,
    cancel: Option<&AbortSignal>,
) -> Result<Vec<u8>, FetchAttemptError> {
    let body = get(global, url.as_ref(), timeout_ms, cancel, Response::array_buffer).await?;
    Ok(Uint8Array::new(&body).to_vec())
}

/// [`get_bytes`], the body as a `Blob` that stays on the JS side (for `createImageBitmap`).
pub async fn get_blob(
    global: &Global,
    url: impl AsRef<str>,
    timeout_ms: u32,
    cancel: Option<&AbortSignal>,
) -> Result<Blob, FetchAttemptError> {
    Ok(get(global, url.as_ref(), timeout_ms, cancel, Response::blob).await?.unchecked_into())
}

/// GET `url` and read the body with `read` (`Response.arrayBuffer`, `Response.blob`), within
/// `timeout_ms` for the whole exchange and stopping when `cancel` fires.
async fn get(
    global: &Global,
    url: &str,
    timeout_ms: u32,
    cancel: Option<&AbortSignal>,
    read: fn(&Response) -> Result<Promise, JsValue>,
) -> Result<JsValue, FetchAttemptError> {
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
    if !response.ok() {
        return Err(FetchAttemptError::from_http_status(response.status()));
    }
    let body = read(&response).map_err(failed)?;
    JsFuture::from(body).await.map_err(failed)
}
