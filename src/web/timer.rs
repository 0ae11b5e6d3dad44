//! Waiting in the worker: a timer that the run's `AbortSignal` cuts short.

use futures::future::select;
use gloo::events::EventListener;
use gloo_timers::future::TimeoutFuture;
use web_sys::AbortSignal;

/// Resolves after `ms` milliseconds, or as soon as `signal` is aborted (at once if it already
/// is). A retry's backoff or a paused host's wait (a `Retry-After` of up to
/// `fetch.maxRetryAfterMs`) thus ends with the run; the caller looks at the signal next.
pub async fn sleep(ms: u32, signal: Option<&AbortSignal>) {
    let Some(signal) = signal else { return TimeoutFuture::new(ms).await };
    if signal.aborted() {
        return;
    }
    let (aborted, on_abort) = futures::channel::oneshot::channel::<()>();
    // Removed from the signal when dropped, whichever of the two ends the wait.
    let _listener = EventListener::once(signal, "abort", move |_| {
        let _ = aborted.send(());
    });
    select(TimeoutFuture::new(ms), on_abort).await;
}
