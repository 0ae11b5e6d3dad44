//! The engine's warm-up pass ([`crate::detect::Engine::warm_up`]) in the background:
//! `Engine.create` resolves once the network is built, and a run's first model pass waits for
//! the warm-up's end ([`WarmUp::ready`], through [`super::hooks::WebHooks`]). On WebGPU (where
//! it compiles the shaders at the model's input size) and in the threaded CPU engine (where it
//! runs on the pool and lets the browser's JIT optimise the hot functions) it starts at once,
//! off the worker's thread, while the first `detect()` plans its area and downloads its tiles.
//! The single-threaded engine runs it on the worker's own thread, where it would hold up
//! whatever the worker does meanwhile; it starts once a run's tile requests are on their way
//! ([`WarmUp::start_next_task`]: the pass then runs while they download, and their bodies wait
//! for it), or after [`IDLE_START_MS`] without a run, or when a run's model pass needs it.
//! From a loopback server, where this thread's reading of the tiles is what they wait for,
//! that is no faster than warming up inside `create` (a cold start of 1070 against 1057 ms,
//! the medians of 8 interleaved runs); with 40 ms per tile request it is 100 ms faster (1144
//! against 1243): `create` resolves sooner, and the first run's downloads hide the pass.

use std::cell::Cell;
use std::fmt;
use std::pin::pin;
use std::rc::{Rc, Weak};

use futures::future::{Either, FutureExt, LocalBoxFuture, Shared, select};
use web_sys::AbortSignal;

use super::Inner;
use super::hooks::WebHooks;
use super::timer;
use crate::{Error, Result};

/// How long the single-threaded engine's warm-up waits for a run to start before it runs
/// anyway (an engine created well before its first `detect()` is warm by then).
pub const IDLE_START_MS: u32 = 50;

/// The warm-up of one engine, started once; any number of runs wait for its end.
#[derive(Clone)]
pub struct WarmUp {
    pass: Shared<LocalBoxFuture<'static, Result<()>>>,
    started: Rc<Cell<bool>>,
}

impl fmt::Debug for WarmUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match (self.pass.peek().is_some(), self.started.get()) {
            (true, _) => "WarmUp(done)",
            (false, true) => "WarmUp(running)",
            (false, false) => "WarmUp(not started)",
        })
    }
}

impl WarmUp {
    /// The warm-up of `owner`'s engine (its hooks report no progress: a warm-up is not a
    /// detection); nothing to do if the owner is gone by then. It runs once started, or once
    /// a run waits for it.
    pub(super) fn new(owner: Weak<Inner>) -> Self {
        Self::of(async move {
            let Some(owner) = owner.upgrade() else { return Ok(()) };
            let hooks = WebHooks::new(owner.global.clone(), None, None);
            owner.engine.warm_up(&hooks).await.map(drop)
        })
    }

    /// A warm-up that is `pass`.
    pub fn of(pass: impl Future<Output = Result<()>> + 'static) -> Self {
        WarmUp { pass: pass.boxed_local().shared(), started: Rc::default() }
    }

    /// Run it now, in the background of the worker's event loop; once: later calls, and
    /// those of the other `start` methods, do nothing.
    pub fn start(&self) {
        if !self.started.replace(true) {
            wasm_bindgen_futures::spawn_local(self.pass.clone().map(drop));
        }
    }

    /// Run it from the event loop's next task, once (as [`Self::start`]): what the current
    /// task still does comes first (a run issuing its tile requests).
    pub fn start_next_task(&self) {
        if !self.started.replace(true) {
            let pass = self.pass.clone();
            wasm_bindgen_futures::spawn_local(async move {
                timer::next_task().await;
                pass.await.ok();
            });
        }
    }

    /// Run it after `ms` unless something has started it by then.
    pub fn start_when_idle(&self, ms: u32) {
        let this = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            timer::sleep(ms, None).await;
            this.start();
        });
    }

    /// Resolves once the warm-up has ended: at once after that. Fails with the pass's own
    /// error (its code kept; an inference or internal error's message says it was the
    /// warm-up's) when it failed, for the engine cannot run, or with [`Error::Aborted`] as
    /// soon as `signal` is aborted, without waiting for its end. Starts it if nothing has.
    pub async fn ready(&self, signal: Option<&AbortSignal>) -> Result<()> {
        self.start();
        let Some(signal) = signal else { return self.pass.clone().await.map_err(failed) };
        match select(self.pass.clone(), pin!(timer::until_aborted(signal))).await {
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
