//! `messageDelay`: consumer messages arriving within this window after the
//! previous one are joined with a space and sent to the bot as one
//! ("hi" + "how are you" → "hi how are you"). Each new message restarts the
//! window; a message after the window goes alone.

use std::time::Duration;

use tokio::time::Instant;

/// Consumer messages waiting for their window to close.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct MessageDelay {
    texts: Vec<String>,
    sequences: Vec<u64>,
    #[serde(with = "crate::connector::saved::wall_clock")]
    due: Option<Instant>,
}

/// A joined message, ready for the bot.
#[derive(Debug, PartialEq, Eq)]
pub struct Joined {
    /// The texts joined with a space.
    pub text: String,
    /// The sequences of the messages joined.
    pub sequences: Vec<u64>,
}

impl MessageDelay {
    /// Adds a message received `now`; the window restarts.
    pub fn push(&mut self, now: Instant, window: Duration, sequence: u64, text: String) {
        self.texts.push(text);
        self.sequences.push(sequence);
        self.due = Some(now + window);
    }

    /// When the waiting messages are due, if any wait.
    pub fn due(&self) -> Option<Instant> {
        self.due
    }

    /// The sequences in the window.
    pub fn sequences(&self) -> &[u64] {
        &self.sequences
    }

    /// True while messages wait.
    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }

    /// Takes the waiting messages as one.
    pub fn take(&mut self) -> Option<Joined> {
        self.due = None;
        if self.texts.is_empty() {
            return None;
        }
        Some(Joined {
            text: std::mem::take(&mut self.texts).join(" "),
            sequences: std::mem::take(&mut self.sequences),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn message_delay_joins_messages_within_window() {
        let window = Duration::from_millis(300);
        let mut delay = MessageDelay::default();
        let start = Instant::now();
        delay.push(start, window, 1, "hi".into());
        delay.push(
            start + Duration::from_millis(200),
            window,
            2,
            "how are you".into(),
        );
        assert_eq!(
            delay.due(),
            Some(start + Duration::from_millis(500)),
            "each message restarts the window"
        );
        assert_eq!(
            delay.take(),
            Some(Joined {
                text: "hi how are you".into(),
                sequences: vec![1, 2]
            })
        );
        assert_eq!(delay.take(), None);
        assert_eq!(delay.due(), None);
    }
}
