//! A connection's outbox: the frames waiting for one socket, bounded in
//! frames and bytes, and the writer that sends them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{Notify, mpsc};
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

/// The sending side of a connection's outbox.
#[derive(Clone, Debug)]
pub struct Outbox {
    frames: mpsc::Sender<Outgoing>,
    shared: Arc<Shared>,
}

/// The receiving side, read by the connection's writer.
pub struct OutboxReader {
    frames: mpsc::Receiver<Outgoing>,
    shared: Arc<Shared>,
}

/// What both sides of an outbox see.
#[derive(Debug, Default)]
struct Shared {
    overflow: Notify,
    /// Bytes of text frames queued and not yet taken by the writer.
    waiting: AtomicUsize,
}

/// A new, bounded outbox.
pub fn outbox() -> (Outbox, OutboxReader) {
    let (sender, receiver) = mpsc::channel(OUTBOX_FRAMES);
    let shared = Arc::new(Shared::default());
    (
        Outbox {
            frames: sender,
            shared: shared.clone(),
        },
        OutboxReader {
            frames: receiver,
            shared,
        },
    )
}

impl Outbox {
    /// Queues a frame. A full outbox (in frames or bytes) closes the
    /// connection (1008); a closed one means the connection is going away
    /// and its cleanup follows.
    pub fn send(&self, frame: Outgoing) -> Result<(), ()> {
        let size = frame.size();
        let waiting = self.shared.waiting.fetch_add(size, Ordering::Relaxed) + size;
        let sent = if waiting > OUTBOX_BYTES {
            Err(mpsc::error::TrySendError::Full(frame))
        } else {
            self.frames.try_send(frame)
        };
        match sent {
            Ok(()) => Ok(()),
            Err(refused) => {
                self.shared.waiting.fetch_sub(size, Ordering::Relaxed);
                if let mpsc::error::TrySendError::Full(_) = refused {
                    self.shared.overflow.notify_one();
                }
                Err(())
            }
        }
    }
}

impl Outbox {
    /// Resolves once the connection's writer is gone: the connection ended.
    pub async fn closed(&self) {
        self.frames.closed().await
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
            match outgoing.frames.try_recv() {
                Ok(next) => frame = outgoing.taken(next),
                Err(_) => break,
            }
        }
        if sink.flush().await.is_err() {
            return;
        }
    }
}

impl OutboxReader {
    /// The next frame to write; a close when the peer fell too far behind.
    pub async fn next(&mut self) -> Option<Outgoing> {
        tokio::select! {
            biased;
            _ = self.shared.overflow.notified() => {
                Some(Outgoing::Close(1008, "too many frames waiting: the peer is not reading".into()))
            }
            frame = self.frames.recv() => frame.map(|frame| self.taken(frame)),
        }
    }

    /// A frame leaves the queue: its bytes no longer wait.
    fn taken(&self, frame: Outgoing) -> Outgoing {
        self.shared
            .waiting
            .fetch_sub(frame.size(), Ordering::Relaxed);
        frame
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
