//! The engine's warm-up pass ([`crate::detect::Engine::warm_up`]) in the background: on
//! WebGPU (where it compiles the shaders at the model's input size) and in the threaded CPU
//! engine (where it runs on the pool and lets the browser's JIT optimise the hot functions),
//! `Engine.create` resolves once the network is built and the pass runs after it, while the
//! first `detect()` plans its area and downloads its tiles; that call's first model pass waits
//! for it ([`WarmUp::ready`], through [`super::hooks::WebHooks`]). The single-threaded engine
//! would run it on the worker's own thread, in the way of those downloads: `create` waits for
//! it there.

use std::fmt;
use std::pin::pin;
use std::rc::Weak;

use futures::future::{Either, FutureExt, LocalBoxFuture, Shared, select};
use web_sys::AbortSignal;

use super::Inner;
use super::hooks::WebHooks;
use super::timer;
use crate::{Error, Result};

/// The warm-up of one engine, started once; any number of runs wait for its end.
#[derive(Clone)]
pub struct WarmUp(Shared<LocalBoxFuture<'static, Result<()>>>);

impl fmt::Debug for WarmUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.peek().is_some() { "WarmUp(done)" } else { "WarmUp(running)" })
    }
}

impl WarmUp {
    /// The warm-up of `owner`'s engine (its hooks report no progress: a warm-up is not a
    /// detection); nothing to do if the owner is gone by then. It runs once [`Self::start`]
    /// is called.
    pub(super) fn new(owner: Weak<Inner>) -> Self {
        Self::of(async move {
            let Some(owner) = owner.upgrade() else { return Ok(()) };
            let hooks = WebHooks::new(owner.global.clone(), None, None);
            owner.engine.warm_up(&hooks).await.map(drop)
        })
    }

    /// A warm-up that has already ended well (one the engine ran before it was made).
    pub fn done() -> Self {
        Self::of(futures::future::ready(Ok(())))
    }

    /// A warm-up that is `pass`.
    pub fn of(pass: impl Future<Output = Result<()>> + 'static) -> Self {
        WarmUp(pass.boxed_local().shared())
    }

    /// Run it now, in the background of the worker's event loop.
    pub fn start(&self) {
        wasm_bindgen_futures::spawn_local(self.0.clone().map(drop));
    }

    /// Resolves once the warm-up has ended: at once after that. Fails with the pass's own
    /// error (its code kept; an inference or internal error's message says it was the
    /// warm-up's) when it failed, for the engine cannot run, or with [`Error::Aborted`] as
    /// soon as `signal` is aborted, without waiting for its end.
    pub async fn ready(&self, signal: Option<&AbortSignal>) -> Result<()> {
        let Some(signal) = signal else { return self.0.clone().await.map_err(failed) };
        match select(self.0.clone(), pin!(timer::until_aborted(signal))).await {
            Either::Left((ended, _)) => ended.map_err(failed),
            Either::Right(_) => Err(Error::Aborted),
        }
    }
}

/// The error of a failed warm-up pass as the runs that waited for it report it: the same
/// error, an inference or internal one saying where it happened.
fn failed(error: Error) -> Error {
    const WHERE: &str = "the engine's warm-up pass failed";
    match error {
        Error::Inference(reason) => Error::Inference(format!("{WHERE}: {reason}")),
        Error::Internal(reason) => Error::Internal(format!("{WHERE}: {reason}")),
        other => other,
    }
}
