//! A conversation task's inbox: an unbounded first-in, first-out queue
//! with one receiver (the task) and any number of senders (the session
//! loop, the task's own bot calls).
//!
//! tokio's unbounded channel would do, but it costs every conversation
//! ~1.5 KiB while idle: a block of 32 slots allocated with the channel and
//! kept, and a cache-padded shared state. Most conversations are idle most
//! of the time, so this queue holds memory only while inputs wait: its
//! buffer is given back whenever the receiver empties it, and what stays
//! is a lock, a queue header and a [`Notify`] (~0.1 KiB).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// The two ends of a new inbox.
pub fn inbox<T>() -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        queue: Mutex::new(Queue {
            items: VecDeque::new(),
            receiving: true,
        }),
        senders: AtomicUsize::new(1),
        arrived: Notify::new(),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

struct Shared<T> {
    queue: Mutex<Queue<T>>,
    /// Live senders: when none is left, an empty inbox stays empty.
    senders: AtomicUsize,
    /// Told of every input sent and of the last sender's drop; a single
    /// receiver waits on it, and a notice given while it does not wait is
    /// kept for its next wait, so none is lost.
    arrived: Notify,
}

struct Queue<T> {
    items: VecDeque<T>,
    /// False once the receiver is dropped: sends fail then.
    receiving: bool,
}

impl<T> Shared<T> {
    fn queue(&self) -> std::sync::MutexGuard<'_, Queue<T>> {
        // No code under the lock panics; a poisoned one still holds a
        // consistent queue.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Puts inputs in the inbox.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Queues `item`; gives it back if the receiver is gone.
    pub fn send(&self, item: T) -> Result<(), T> {
        {
            let mut queue = self.shared.queue();
            if !queue.receiving {
                return Err(item);
            }
            queue.items.push_back(item);
        }
        self.shared.arrived.notify_one();
        Ok(())
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, Ordering::Relaxed);
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.arrived.notify_one();
        }
    }
}

/// Takes inputs from the inbox, in the order they were sent.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Receiver<T> {
    /// The next input; `None` once it is empty and every sender is gone.
    /// Cancel safe: an input is taken only when this returns it.
    pub async fn recv(&mut self) -> Option<T> {
        loop {
            if let Some(item) = self.try_recv() {
                return Some(item);
            }
            if self.shared.senders.load(Ordering::Acquire) == 0 {
                // A send that raced the last sender's drop is still taken.
                return self.try_recv();
            }
            self.shared.arrived.notified().await;
        }
    }

    /// The next input if one waits.
    fn try_recv(&mut self) -> Option<T> {
        let mut queue = self.shared.queue();
        let item = queue.items.pop_front();
        if queue.items.is_empty() && queue.items.capacity() > 0 {
            // Idle inboxes are many: the buffer goes back until the next burst.
            queue.items = VecDeque::new();
        }
        item
    }

    /// True while no input waits.
    pub fn is_empty(&self) -> bool {
        self.shared.queue().items.is_empty()
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut queue = self.shared.queue();
        queue.receiving = false;
        // What was queued goes now, not with the last sender, and outside
        // the lock (an input's drop may do anything).
        let queued = std::mem::take(&mut queue.items);
        drop(queue);
        drop(queued);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn inputs_arrive_in_the_order_they_were_sent() {
        let (tx, mut rx) = inbox();
        let other = tx.clone();
        tx.send(1).unwrap();
        other.send(2).unwrap();
        tx.send(3).unwrap();
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.recv().await, Some(2));
        assert!(!rx.is_empty());
        assert_eq!(rx.recv().await, Some(3));
        assert!(rx.is_empty());
    }

    // The paused clock: the wait lets the other task park, not a real delay.
    #[tokio::test(start_paused = true)]
    async fn a_waiting_receiver_wakes_for_a_send_from_another_task() {
        let (tx, mut rx) = inbox();
        let waiting = tokio::spawn(async move { rx.recv().await });
        tokio::time::sleep(Duration::from_millis(10)).await;
        tx.send("hello").unwrap();
        assert_eq!(waiting.await.unwrap(), Some("hello"));
    }

    // The paused clock: the wait lets the other task park, not a real delay.
    #[tokio::test(start_paused = true)]
    async fn a_cancelled_receive_loses_nothing() {
        let (tx, mut rx) = inbox();
        let timed_out = tokio::time::timeout(Duration::from_millis(5), rx.recv()).await;
        assert!(timed_out.is_err());
        tx.send(7).unwrap();
        assert_eq!(rx.recv().await, Some(7));
    }

    // The paused clock: the wait lets the other task park, not a real delay.
    #[tokio::test(start_paused = true)]
    async fn the_receiver_hears_none_once_every_sender_is_gone() {
        let (tx, mut rx) = inbox();
        let other = tx.clone();
        tx.send(1).unwrap();
        drop(tx);
        let waiting = tokio::spawn(async move {
            let first = rx.recv().await;
            (first, rx.recv().await)
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        drop(other);
        assert_eq!(waiting.await.unwrap(), (Some(1), None));
    }

    #[test]
    fn a_send_to_a_dropped_receiver_gives_the_input_back() {
        let (tx, rx) = inbox();
        drop(rx);
        assert_eq!(tx.send(5), Err(5));
    }

    #[tokio::test]
    async fn an_emptied_inbox_keeps_no_buffer() {
        let (tx, mut rx) = inbox();
        for n in 0..100 {
            tx.send(n).unwrap();
        }
        while !rx.is_empty() {
            rx.recv().await;
        }
        assert_eq!(rx.shared.queue().items.capacity(), 0);
    }
}
