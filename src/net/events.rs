//! A server's per-connection events (open, close, bytes) on their way to
//! whoever prints them: one channel shape for `tcp listen` and `proxy`.

use tokio::sync::mpsc;

/// Where events go: a channel the caller reads, or nowhere.
#[derive(Debug)]
pub(crate) struct Events<E> {
    tx: Option<mpsc::Sender<E>>,
}

// By hand: a derive would ask `E: Clone`, which the sender does not need.
impl<E> Clone for Events<E> {
    fn clone(&self) -> Self {
        Events {
            tx: self.tx.clone(),
        }
    }
}

impl<E> Default for Events<E> {
    fn default() -> Self {
        Events { tx: None }
    }
}

impl<E> Events<E> {
    /// Events to `tx`, or nowhere without one.
    pub(crate) fn new(tx: Option<mpsc::Sender<E>>) -> Self {
        Events { tx }
    }

    /// Report `event`; waits while the reader is behind, so none is lost.
    pub(crate) async fn send(&self, event: E) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(event).await;
        }
    }
}
