//! A connection's outbox: the frames waiting for one socket, bounded in
//! frames and bytes, and the writer that sends them.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// A connection's outbox: text frames to send, or a close with a code.
#[derive(Debug)]
pub enum Outgoing {
    /// A text frame.
    Text(String),
    /// Close the socket with this code and reason.
    Close(u16, String),
}

/// How many frames may wait for one connection. A peer that stops reading
/// is disconnected rather than let the hub hold its frames without end.
const OUTBOX_FRAMES: usize = 4096;

/// How many bytes of frames may wait for one connection (frames differ in
/// size by four orders of magnitude, so their count alone bounds little).
const OUTBOX_BYTES: usize = 16 * 1024 * 1024;

/// Sends the text `frame` to each of `outboxes`: a copy to each but the
/// last, which takes the frame itself (most events have one reader a
/// side). A closed outbox is skipped: its connection's cleanup follows.
pub fn send_each<'a>(outboxes: impl IntoIterator<Item = &'a Outbox>, mut frame: String) {
    let mut outboxes = outboxes.into_iter().peekable();
    while let Some(outbox) = outboxes.next() {
        let frame = match outboxes.peek() {
            Some(_) => frame.clone(),
            None => std::mem::take(&mut frame),
        };
        let _ = outbox.send(Outgoing::Text(frame));
    }
}

/// The sending side of a connection's outbox; the writer ends once every
/// clone is dropped.
#[derive(Debug)]
pub struct Outbox {
    shared: Arc<Shared>,
}

/// The receiving side, read by the connection's writer.
pub struct OutboxReader {
    shared: Arc<Shared>,
}

/// What both sides of an outbox see.
///
/// A queue under a lock rather than a tokio channel: a channel allocates
/// its slots in blocks of 32 frames and keeps one, over a kilobyte with
/// the channel itself for every open socket, most of which sit idle. This
/// queue holds memory only while frames wait.
#[derive(Debug, Default)]
struct Shared {
    queue: Mutex<Queue>,
    /// Wakes the writer: a frame waits, the peer fell behind, or the last
    /// sender is gone.
    wake: Notify,
    /// Wakes [`Outbox::closed`]: the writer is gone.
    writer_gone: Notify,
}

#[derive(Debug, Default)]
struct Queue {
    frames: VecDeque<Outgoing>,
    /// Bytes of the frames waiting.
    bytes: usize,
    /// Live [`Outbox`] clones.
    senders: usize,
    /// The peer fell too far behind: the writer closes the socket.
    overflow: bool,
    /// The writer is gone: nothing more is queued.
    writer_gone: bool,
}

impl Queue {
    /// The frame waiting longest; an emptied queue gives back its memory.
    fn pop(&mut self) -> Option<Outgoing> {
        let frame = self.frames.pop_front()?;
        self.bytes -= frame.size();
        if self.frames.is_empty() {
            self.frames = VecDeque::new();
        }
        Some(frame)
    }
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue
            .lock()
            .expect("outbox lock is never poisoned: no panics under it")
    }
}

/// A new, bounded outbox.
pub fn outbox() -> (Outbox, OutboxReader) {
    let shared = Arc::new(Shared::default());
    shared.queue().senders = 1;
    (
        Outbox {
            shared: shared.clone(),
        },
        OutboxReader { shared },
    )
}

impl Outbox {
    /// Queues a frame. A full outbox (in frames or bytes) closes the
    /// connection (1008); a closed one means the connection is going away
    /// and its cleanup follows.
    pub fn send(&self, frame: Outgoing) -> Result<(), ()> {
        let mut queue = self.shared.queue();
        if queue.writer_gone {
            return Err(());
        }
        let size = frame.size();
        if queue.frames.len() >= OUTBOX_FRAMES || queue.bytes + size > OUTBOX_BYTES {
            queue.overflow = true;
            drop(queue);
            self.shared.wake.notify_one();
            return Err(());
        }
        queue.bytes += size;
        queue.frames.push_back(frame);
        drop(queue);
        self.shared.wake.notify_one();
        Ok(())
    }

    /// Resolves once the connection's writer is gone: the connection ended.
    pub async fn closed(&self) {
        loop {
            let gone = self.shared.writer_gone.notified();
            tokio::pin!(gone);
            // Registered before the check, so a writer leaving in between wakes it.
            gone.as_mut().enable();
            if self.shared.queue().writer_gone {
                return;
            }
            gone.await;
        }
    }
}

impl Clone for Outbox {
    fn clone(&self) -> Self {
        self.shared.queue().senders += 1;
        Outbox {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        let last = {
            let mut queue = self.shared.queue();
            queue.senders -= 1;
            queue.senders == 0
        };
        if last {
            self.shared.wake.notify_one();
        }
    }
}

impl Outgoing {
    /// The bytes it holds while it waits.
    fn size(&self) -> usize {
        match self {
            Outgoing::Text(text) => text.len(),
            Outgoing::Close(_, reason) => reason.len(),
        }
    }
}

/// Writes a connection's outbox to its socket until either closes. Frames
/// already waiting go out in one write (one flush per burst, not per frame).
pub async fn write_frames(
    mut sink: futures_util::stream::SplitSink<crate::http::ServerSocket, Message>,
    mut outgoing: OutboxReader,
) {
    use futures_util::SinkExt;
    while let Some(mut frame) = outgoing.next().await {
        loop {
            let result = match frame {
                Outgoing::Text(text) => sink.feed(Message::text(text)).await,
                Outgoing::Close(code, reason) => {
                    let close = CloseFrame {
                        code: CloseCode::from(code),
                        reason: reason.into(),
                    };
                    let _ = sink.send(Message::Close(Some(close))).await;
                    return;
                }
            };
            if result.is_err() {
                return;
            }
            let next = outgoing.shared.queue().pop();
            match next {
                Some(next) => frame = next,
                None => break,
            }
        }
        if sink.flush().await.is_err() {
            return;
        }
    }
}

impl OutboxReader {
    /// The next frame to write; a close when the peer fell too far behind;
    /// `None` once every sender is gone and nothing waits.
    pub async fn next(&mut self) -> Option<Outgoing> {
        loop {
            {
                let mut queue = self.shared.queue();
                if std::mem::take(&mut queue.overflow) {
                    return Some(Outgoing::Close(
                        1008,
                        "too many frames waiting: the peer is not reading".into(),
                    ));
                }
                if let Some(frame) = queue.pop() {
                    return Some(frame);
                }
                if queue.senders == 0 {
                    return None;
                }
            }
            // `notify_one` keeps a wake-up sent while nobody waited.
            self.shared.wake.notified().await;
        }
    }
}

impl Drop for OutboxReader {
    /// The writer is gone: what waits is dropped and senders are refused.
    fn drop(&mut self) {
        let frames = {
            let mut queue = self.shared.queue();
            queue.writer_gone = true;
            queue.bytes = 0;
            std::mem::take(&mut queue.frames)
        };
        drop(frames);
        self.shared.writer_gone.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_frame_sent_to_each_of_several_outboxes_reaches_every_one() {
        let pairs: Vec<_> = (0..3).map(|_| outbox()).collect();
        send_each(pairs.iter().map(|(outbox, _)| outbox), "hello".into());
        send_each([], "nobody".into());
        for (_, mut reader) in pairs {
            assert!(matches!(reader.next().await, Some(Outgoing::Text(t)) if t == "hello"));
        }
    }

    #[tokio::test]
    async fn a_peer_that_stops_reading_is_closed_not_buffered_without_end() {
        let (outbox, mut reader) = outbox();
        for n in 0..OUTBOX_FRAMES {
            outbox
                .send(Outgoing::Text(n.to_string()))
                .expect("room for it");
        }
        assert!(outbox.send(Outgoing::Text("one too many".into())).is_err());
        match reader.next().await {
            Some(Outgoing::Close(code, _)) => assert_eq!(code, 1008),
            other => panic!("expected a close, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_peer_that_stops_reading_large_frames_is_closed_at_the_byte_bound() {
        let (outbox, mut reader) = outbox();
        let page = "x".repeat(1024 * 1024);
        for _ in 0..OUTBOX_BYTES / page.len() {
            outbox
                .send(Outgoing::Text(page.clone()))
                .expect("room for it");
        }
        assert!(outbox.send(Outgoing::Text(page.clone())).is_err());
        match reader.next().await {
            Some(Outgoing::Close(code, _)) => assert_eq!(code, 1008),
            other => panic!("expected a close, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn bytes_taken_by_the_writer_make_room_again() {
        let (outbox, mut reader) = outbox();
        let page = "x".repeat(1024 * 1024);
        for _ in 0..3 * OUTBOX_BYTES / page.len() {
            outbox
                .send(Outgoing::Text(page.clone()))
                .expect("room for it");
            assert!(matches!(reader.next().await, Some(Outgoing::Text(_))));
        }
    }

    #[tokio::test]
    async fn the_writer_ends_once_every_sender_is_gone_and_the_frames_are_out() {
        let (outbox, mut reader) = outbox();
        let other = outbox.clone();
        outbox.send(Outgoing::Text("last".into())).unwrap();
        drop(outbox);
        drop(other);
        assert!(matches!(reader.next().await, Some(Outgoing::Text(t)) if t == "last"));
        assert!(reader.next().await.is_none());
    }

    #[tokio::test]
    async fn senders_learn_that_the_writer_is_gone() {
        let (outbox, reader) = outbox();
        let waiting = tokio::spawn({
            let outbox = outbox.clone();
            async move { outbox.closed().await }
        });
        drop(reader);
        waiting.await.unwrap();
        outbox.closed().await;
        assert!(outbox.send(Outgoing::Text("late".into())).is_err());
    }

    #[tokio::test]
    async fn a_drained_outbox_holds_no_memory_for_frames() {
        let (outbox, mut reader) = outbox();
        outbox.send(Outgoing::Text("one".into())).unwrap();
        reader.next().await.unwrap();
        assert_eq!(outbox.shared.queue().frames.capacity(), 0);
    }

    #[tokio::test]
    async fn frames_come_out_in_order() {
        let (outbox, mut reader) = outbox();
        for n in 0..3 {
            outbox.send(Outgoing::Text(n.to_string())).unwrap();
        }
        for n in 0..3 {
            assert!(matches!(reader.next().await, Some(Outgoing::Text(t)) if t == n.to_string()));
        }
    }
}
