//! How work done off the UI thread reaches it. Every background part of the
//! kiosk — the services (devices, sync, the desk), admin mode's worker, the
//! check of a clerk's PIN — posts what it has into a [`Mailbox`], and the UI
//! thread takes it with [`Mailbox::deliver_on_ui`].
//!
//! Why a mailbox drained on a Slint timer rather than
//! `slint::invoke_from_event_loop`: the same screens also run without an
//! event loop — headless for `bianmin screens` and `walkthrough`, and under
//! Slint's testing backend with mock time in the tests — and timers are what
//! runs there. Nothing posted before a window exists is lost either.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A queue any thread posts into and the UI thread drains, oldest first.
pub struct Mailbox<T>(Arc<Mutex<VecDeque<T>>>);

impl<T> Mailbox<T> {
    pub fn new() -> Mailbox<T> {
        Mailbox(Arc::new(Mutex::new(VecDeque::new())))
    }

    /// Leave `item` for the UI thread. Never blocks for long and never fails:
    /// a poisoned lock (a panic while another thread held it) still queues.
    pub fn post(&self, item: T) {
        let mut queue = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        queue.push_back(item);
    }

    /// Everything posted so far, oldest first.
    pub fn drain(&self) -> Vec<T> {
        let mut queue = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        queue.drain(..).collect()
    }
}

impl<T: 'static> Mailbox<T> {
    /// Hand each item to `deliver` on the UI thread, looking every `every`.
    /// Delivery stops when the returned timer is dropped.
    pub fn deliver_on_ui(&self, every: Duration, deliver: impl Fn(T) + 'static) -> slint::Timer {
        let mailbox = self.clone();
        let timer = slint::Timer::default();
        timer.start(slint::TimerMode::Repeated, every, move || {
            for item in mailbox.drain() {
                deliver(item);
            }
        });
        timer
    }
}

impl<T> Clone for Mailbox<T> {
    fn clone(&self) -> Self {
        Mailbox(self.0.clone())
    }
}

impl<T> Default for Mailbox<T> {
    fn default() -> Self {
        Mailbox::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_come_out_in_order_once_from_any_thread() {
        let mailbox = Mailbox::new();
        let poster = mailbox.clone();
        std::thread::spawn(move || {
            for i in 0..100 {
                poster.post(i);
            }
        })
        .join()
        .unwrap();
        assert_eq!(mailbox.drain(), (0..100).collect::<Vec<_>>());
        assert!(mailbox.drain().is_empty());
    }
}
