//! Waiting in the worker: a timer that the run's `AbortSignal` cuts short, the abort itself,
//! and one turn of the event loop.

use std::pin::pin;

use futures::future::select;
use gloo::events::EventListener;
use gloo_timers::future::TimeoutFuture;
use wasm_bindgen::JsValue;
use web_sys::{AbortSignal, MessageChannel};

/// Resolves after `ms` milliseconds, or as soon as `signal` is aborted (at once if it already
/// is). A retry's backoff or a paused host's wait (a `Retry-After` of up to
/// `fetch.maxRetryAfterMs`) thus ends with the run; the caller looks at the signal next.
pub async fn sleep(ms: u32, signal: Option<&AbortSignal>) {
    let Some(signal) = signal else { return TimeoutFuture::new(ms).await };
    if signal.aborted() {
        return;
    }
    select(TimeoutFuture::new(ms), pin!(until_aborted(signal))).await;
}

/// Resolves once `signal` is aborted (at once if it already is); never otherwise. Its
/// listener leaves the signal when the future is dropped (a [`sleep`] that timed out, a wait
/// that ended otherwise).
pub async fn until_aborted(signal: &AbortSignal) {
    if signal.aborted() {
        return;
    }
    let (aborted, on_abort) = futures::channel::oneshot::channel::<()>();
    let _listener = EventListener::once(signal, "abort", move |_| {
        let _ = aborted.send(());
    });
    let _ = on_abort.await;
}

/// Resolves from a task of its own, after whatever the event loop had queued before (an abort
/// message, a tile that arrived): a message the worker sends itself over a `MessageChannel`.
/// Not `setTimeout(0)`: browsers delay timers nested five deep by at least 4 ms, and a run's
/// checkpoints, one per model window, each resume from the one before.
pub async fn next_task() {
    let Ok(channel) = MessageChannel::new() else { return TimeoutFuture::new(0).await };
    let (port, sender) = (channel.port1(), channel.port2());
    let (done, turn) = futures::channel::oneshot::channel::<()>();
    let _listener = EventListener::once(&port, "message", move |_| {
        let _ = done.send(());
    });
    port.start();
    if sender.post_message(&JsValue::UNDEFINED).is_ok() {
        let _ = turn.await;
    } else {
        TimeoutFuture::new(0).await;
    }
    port.close();
    sender.close();
}
