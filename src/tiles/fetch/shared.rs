//! Identical requests in flight at once share one: [`InFlight`]. A worker loads the chunk it
//! runs and the one it will likely run next at the same time, and two chunks share the
//! tiles on their seam; without this, a tile asked for twice before its first download
//! finished would be downloaded twice.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;

use futures::future::{FutureExt, LocalBoxFuture, Shared};

/// Requests in flight by key; each settles once, for everyone who asked while it ran.
#[derive(Debug)]
pub struct InFlight<K, V: Clone> {
    running: RefCell<HashMap<K, Shared<LocalBoxFuture<'static, V>>>>,
}

impl<K, V: Clone> Default for InFlight<K, V> {
    fn default() -> Self {
        InFlight { running: RefCell::default() }
    }
}

impl<K: Hash + Eq + Clone, V: Clone + 'static> InFlight<K, V> {
    /// Nothing in flight.
    pub fn new() -> Self {
        Self::default()
    }

    /// The outcome of the request named `key`: the one already in flight if there is one,
    /// otherwise `start()`'s, which others asking meanwhile then share. It runs as long as
    /// anyone still waits for it; once settled it is forgotten (the next ask starts anew).
    /// The second value says whether this call shared a request another one started.
    pub async fn run<F>(&self, key: K, start: impl FnOnce() -> F) -> (V, bool)
    where
        F: Future<Output = V> + 'static,
    {
        let (request, shared) = {
            let mut running = self.running.borrow_mut();
            match running.get(&key) {
                Some(request) => (request.clone(), true),
                None => {
                    let request = start().boxed_local().shared();
                    running.insert(key.clone(), request.clone());
                    (request, false)
                }
            }
        };
        let value = request.clone().await;
        let mut running = self.running.borrow_mut();
        if running.get(&key).is_some_and(|current| Shared::ptr_eq(current, &request)) {
            running.remove(&key);
        }
        (value, shared)
    }

    /// Requests in flight now.
    pub fn len(&self) -> usize {
        self.running.borrow().len()
    }

    /// Whether nothing is in flight.
    pub fn is_empty(&self) -> bool {
        self.running.borrow().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::channel::oneshot;
    use futures::executor::LocalPool;
    use futures::task::LocalSpawnExt;
    use std::cell::Cell;
    use std::rc::Rc;

    #[test]
    fn concurrent_asks_share_one_request_and_later_asks_start_anew() {
        let inflight: Rc<InFlight<String, u32>> = Rc::new(InFlight::new());
        let started = Rc::new(Cell::new(0));
        let results: Rc<RefCell<Vec<(u32, bool)>>> = Rc::default();
        let (tx, rx) = oneshot::channel::<u32>();
        let rx = RefCell::new(Some(rx));
        let mut pool = LocalPool::new();
        for _ in 0..3 {
            let (inflight, started, results) = (inflight.clone(), started.clone(), results.clone());
            let rx = rx.borrow_mut().take();
            pool.spawner()
                .spawn_local(async move {
                    let out = inflight
                        .run("a".to_owned(), || {
                            started.set(started.get() + 1);
                            let rx = rx.expect("only the first ask starts the request");
                            async move { rx.await.unwrap_or(0) }
                        })
                        .await;
                    results.borrow_mut().push(out);
                })
                .unwrap();
        }
        pool.run_until_stalled();
        assert_eq!((started.get(), inflight.len()), (1, 1));
        tx.send(42).unwrap();
        pool.run_until_stalled();
        let mut got = results.borrow().clone();
        got.sort_unstable();
        assert_eq!(got, [(42, false), (42, true), (42, true)]);
        assert!(inflight.is_empty());
        // Settled and forgotten: the next ask runs its own request.
        let again = futures::executor::block_on(inflight.run("a".to_owned(), || {
            started.set(started.get() + 1);
            async { 7 }
        }));
        assert_eq!((again, started.get()), ((7, false), 2));
    }

    #[test]
    fn the_request_outlives_a_dropped_first_asker() {
        let inflight: Rc<InFlight<u8, u32>> = Rc::new(InFlight::new());
        let (tx, rx) = oneshot::channel::<u32>();
        let mut pool = LocalPool::new();
        let first = {
            let inflight = inflight.clone();
            pool.spawner()
                .spawn_local_with_handle(async move { inflight.run(1, || async move { rx.await.unwrap_or(0) }).await })
                .unwrap()
        };
        let second = {
            let inflight = inflight.clone();
            pool.spawner()
                .spawn_local_with_handle(async move { inflight.run(1, || async { unreachable!("shared") }).await })
                .unwrap()
        };
        pool.run_until_stalled();
        drop(first);
        tx.send(5).unwrap();
        assert_eq!(pool.run_until(second), (5, true));
        assert!(inflight.is_empty());
    }
}
