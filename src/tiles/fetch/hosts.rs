//! Requests in flight per host, and a host's pause: [`HostGate`]. One gate per worker
//! serves every run and the chunk loaded ahead, so together they never send a host more
//! than `fetch.perHost` requests at once, and a host that answered `429`/`503` with
//! `Retry-After` gets no request from this worker until that time has passed.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// The host part of `url`, `scheme://host[:port]` (lower case), that requests are counted
/// under; `""` for a URL without a scheme (the page's own origin).
pub fn host_of(url: &str) -> String {
    let Some((scheme, authority)) = scheme_and_authority(url) else { return String::new() };
    // Credentials in the URL are not part of the host (nor kept anywhere).
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    format!("{}://{}", scheme.to_ascii_lowercase(), host.to_ascii_lowercase())
}

/// The scheme of `url` and its authority (`user:password@host:port`, as written), for a URL
/// with a scheme.
pub fn scheme_and_authority(url: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    Some((scheme, rest.split(['/', '?', '#']).next().unwrap_or_default()))
}

#[derive(Debug, Default)]
struct Host {
    in_flight: usize,
    /// Clock time (the host's `now`, ms) before which no request starts.
    paused_until: f64,
    waiting: Vec<Waker>,
}

/// Request slots and pauses per host (see the module).
#[derive(Debug, Default)]
pub struct HostGate {
    hosts: RefCell<HashMap<String, Host>>,
}

/// A request slot at one host, given back when dropped.
#[derive(Debug)]
pub struct HostPermit<'a> {
    gate: &'a HostGate,
    host: String,
}

impl Drop for HostPermit<'_> {
    fn drop(&mut self) {
        let mut hosts = self.gate.hosts.borrow_mut();
        if let Some(host) = hosts.get_mut(&self.host) {
            host.in_flight = host.in_flight.saturating_sub(1);
            // Every waiter checks again: one may have been dropped (cancelled) since it waited.
            for waker in host.waiting.drain(..) {
                waker.wake();
            }
            if host.in_flight == 0 && host.waiting.is_empty() && host.paused_until <= 0.0 {
                hosts.remove(&self.host);
            }
        }
    }
}

impl HostGate {
    /// An open gate.
    pub fn new() -> Self {
        Self::default()
    }

    /// Waits until `host` is not paused (sleeping with `sleep(ms)`, `now()` being the
    /// clock in ms) and has fewer than `limit` requests in flight, then takes a slot.
    ///
    /// `None`, without a slot, once `is_cancelled()` (checked before each wait and before the
    /// slot is taken). A pause lasts as long as the host's `Retry-After` (up to
    /// `fetch.maxRetryAfterMs`, 30 s by default), so the host's `sleep` should end early when
    /// the run is cancelled, as the browser's does on the run's `AbortSignal`: an aborted run
    /// then stops waiting at once instead of when the pause ends.
    pub async fn acquire<S, SFut>(
        &self,
        host: &str,
        limit: usize,
        now: &dyn Fn() -> f64,
        sleep: &S,
        is_cancelled: &dyn Fn() -> bool,
    ) -> Option<HostPermit<'_>>
    where
        S: Fn(u32) -> SFut,
        SFut: Future<Output = ()>,
    {
        loop {
            if is_cancelled() {
                return None;
            }
            let paused_until = self.hosts.borrow().get(host).map_or(0.0, |h| h.paused_until);
            let wait = paused_until - now();
            if wait > 0.0 {
                sleep(wait.ceil().min(f64::from(u32::MAX)) as u32).await;
                continue;
            }
            SlotFree { gate: self, host, limit }.await;
            if is_cancelled() {
                return None;
            }
            // A pause may have begun while this request waited for its slot.
            let mut hosts = self.hosts.borrow_mut();
            let entry = hosts.entry(host.to_owned()).or_default();
            if entry.paused_until - now() > 0.0 {
                continue;
            }
            entry.in_flight += 1;
            return Some(HostPermit { gate: self, host: host.to_owned() });
        }
    }

    /// No new request to `host` before `until` (on the clock of [`Self::acquire`]'s `now`).
    pub fn pause(&self, host: &str, until: f64) {
        let mut hosts = self.hosts.borrow_mut();
        let entry = hosts.entry(host.to_owned()).or_default();
        entry.paused_until = entry.paused_until.max(until);
    }

    /// Requests in flight to `host` now.
    pub fn in_flight(&self, host: &str) -> usize {
        self.hosts.borrow().get(host).map_or(0, |h| h.in_flight)
    }
}

/// Ready once `host` has fewer than `limit` requests in flight.
struct SlotFree<'a> {
    gate: &'a HostGate,
    host: &'a str,
    limit: usize,
}

impl Future for SlotFree<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut hosts = self.gate.hosts.borrow_mut();
        let host = hosts.entry(self.host.to_owned()).or_default();
        if host.in_flight < self.limit {
            return Poll::Ready(());
        }
        host.waiting.push(cx.waker().clone());
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::LocalPool;
    use futures::task::LocalSpawnExt;
    use std::cell::Cell;
    use std::rc::Rc;

    #[test]
    fn hosts_of_urls() {
        assert_eq!(host_of("https://A.tile.Example.com/1/2/3.png"), "https://a.tile.example.com");
        assert_eq!(host_of("http://127.0.0.1:8080/tiles/{z}/{x}/{y}.png?k=1"), "http://127.0.0.1:8080");
        assert_eq!(host_of("https://user:secret@example.com?x"), "https://example.com");
        assert_eq!(host_of("https://example.com"), "https://example.com");
        assert_eq!(host_of("/tiles/1/2/3.png"), "");
    }

    /// A clock the tests move by hand, and a sleep that moves it.
    fn clock() -> (Rc<Cell<f64>>, impl Fn(u32) -> futures::future::Ready<()>) {
        let now = Rc::new(Cell::new(0.0));
        let moved = now.clone();
        (now, move |ms| {
            moved.set(moved.get() + f64::from(ms));
            futures::future::ready(())
        })
    }

    #[test]
    fn at_most_limit_per_host_and_hosts_are_independent() {
        let gate = Rc::new(HostGate::new());
        let (now, sleep) = clock();
        let sleep = Rc::new(sleep);
        let (peak_a, peak_b, done) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
        let release: Rc<RefCell<Vec<futures::channel::oneshot::Sender<()>>>> = Rc::default();
        let mut pool = LocalPool::new();
        for i in 0..10 {
            let (gate, now, sleep, release, done) =
                (gate.clone(), now.clone(), sleep.clone(), release.clone(), done.clone());
            let (peak_a, peak_b) = (peak_a.clone(), peak_b.clone());
            let host = if i % 2 == 0 { "http://a" } else { "http://b" };
            pool.spawner()
                .spawn_local(async move {
                    let _permit = gate.acquire(host, 2, &|| now.get(), &*sleep, &|| false).await;
                    peak_a.set(peak_a.get().max(gate.in_flight("http://a")));
                    peak_b.set(peak_b.get().max(gate.in_flight("http://b")));
                    let (tx, rx) = futures::channel::oneshot::channel();
                    release.borrow_mut().push(tx);
                    let _ = rx.await;
                    done.set(done.get() + 1);
                })
                .unwrap();
        }
        pool.run_until_stalled();
        assert_eq!((gate.in_flight("http://a"), gate.in_flight("http://b")), (2, 2));
        while done.get() < 10 {
            let senders: Vec<_> = release.borrow_mut().drain(..).collect();
            assert!(!senders.is_empty(), "stalled with {} done", done.get());
            for tx in senders {
                let _ = tx.send(());
            }
            pool.run_until_stalled();
        }
        assert_eq!((peak_a.get(), peak_b.get()), (2, 2));
        assert!(gate.hosts.borrow().is_empty(), "idle hosts are forgotten");
    }

    #[test]
    fn a_paused_host_waits_and_others_do_not() {
        let gate = HostGate::new();
        let (now, sleep) = clock();
        gate.pause("http://slow", 1500.0);
        let started = futures::executor::block_on(async {
            let _b = gate.acquire("http://other", 1, &|| now.get(), &sleep, &|| false).await;
            let at_other = now.get();
            let _a = gate.acquire("http://slow", 1, &|| now.get(), &sleep, &|| false).await;
            (at_other, now.get())
        });
        assert_eq!(started, (0.0, 1500.0));
        // A later, shorter pause does not shorten it.
        gate.pause("http://slow", 3000.0);
        gate.pause("http://slow", 2000.0);
        futures::executor::block_on(gate.acquire("http://slow", 1, &|| now.get(), &sleep, &|| false));
        assert_eq!(now.get(), 3000.0);
    }

    #[test]
    fn a_cancelled_run_stops_waiting_for_a_paused_host_or_a_slot() {
        let gate = Rc::new(HostGate::new());
        gate.pause("h://x", 30_000.0);
        // The run is aborted 100 ms into the 30 s pause: the host's sleep ends then (as the
        // browser's does on the run's AbortSignal), and no slot is taken.
        let (now, cancelled) = (Rc::new(Cell::new(0.0)), Rc::new(Cell::new(false)));
        let sleep = |_ms| {
            now.set(now.get() + 100.0);
            cancelled.set(true);
            futures::future::ready(())
        };
        let got = futures::executor::block_on(gate.acquire("h://x", 1, &|| now.get(), &sleep, &|| cancelled.get()));
        assert!(got.is_none());
        assert_eq!((now.get(), gate.in_flight("h://x")), (100.0, 0));

        // Waiting for a slot: the run is aborted meanwhile, the slot frees, the waiter leaves it.
        let open = Rc::new(HostGate::new());
        let first =
            futures::executor::block_on(open.acquire("h://y", 1, &|| 0.0, &|_| futures::future::ready(()), &|| false));
        let (cancelled, outcome) = (Rc::new(Cell::new(false)), Rc::new(Cell::new(None)));
        let mut pool = LocalPool::new();
        {
            let (open, cancelled, outcome) = (open.clone(), cancelled.clone(), outcome.clone());
            pool.spawner()
                .spawn_local(async move {
                    let sleep = |_| futures::future::ready(());
                    let permit = open.acquire("h://y", 1, &|| 0.0, &sleep, &|| cancelled.get()).await;
                    outcome.set(Some(permit.is_some()));
                })
                .unwrap();
        }
        pool.run_until_stalled();
        assert_eq!(outcome.get(), None, "waits for the slot");
        cancelled.set(true);
        drop(first);
        pool.run_until_stalled();
        assert_eq!(outcome.get(), Some(false));
        assert_eq!(open.in_flight("h://y"), 0);
    }

    #[test]
    fn a_cancelled_waiter_does_not_block_the_next() {
        let gate = Rc::new(HostGate::new());
        let (now, sleep) = clock();
        let mut pool = LocalPool::new();
        let first = futures::executor::block_on(gate.acquire("h://x", 1, &|| now.get(), &sleep, &|| false));
        // A waiter that gives up (dropped) before the slot frees.
        let abandoned = {
            let (gate, now) = (gate.clone(), now.clone());
            pool.spawner()
                .spawn_local_with_handle(async move {
                    let sleep = |_| futures::future::ready(());
                    drop(gate.acquire("h://x", 1, &|| now.get(), &sleep, &|| false).await);
                })
                .unwrap()
        };
        let got = Rc::new(Cell::new(false));
        {
            let (gate, now, got) = (gate.clone(), now.clone(), got.clone());
            pool.spawner()
                .spawn_local(async move {
                    let sleep = |_| futures::future::ready(());
                    let _p = gate.acquire("h://x", 1, &|| now.get(), &sleep, &|| false).await;
                    got.set(true);
                })
                .unwrap();
        }
        pool.run_until_stalled();
        drop(abandoned);
        drop(first);
        pool.run_until_stalled();
        assert!(got.get());
    }
}
