//! The tile-display plugin: applies the connector's `tileDisplay` field to
//! the bot's answers.
//!
//! - `horizontal`: consecutive card messages (structured content whose root
//!   is a `vertical` card) are published as one carousel, LivePerson's
//!   horizontal tile layout. A carousel holds 2 to 10 cards, so a longer run
//!   is split into evenly sized carousels; a lone card stays a card. Quick
//!   replies of the run's last card stay on the carousel.
//! - `vertical` (the default): cards are stacked, one message each; a
//!   carousel the bot sent is unfolded into its cards.
//!
//! The plugin setting `mode` overrides the field for this plugin alone.

use switchboard_sdk::content::{CAROUSEL_CARDS, Element};
use switchboard_sdk::{Content, Conversation, Message, Plugin, host};

/// The plugin type.
pub struct TileDisplay;

/// The two layouts of `tileDisplay`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Stacked vertical cards.
    Vertical,
    /// One carousel.
    Horizontal,
}

#[switchboard_sdk::plugin]
impl Plugin for TileDisplay {
    fn on_bot_message(conv: &Conversation, messages: Vec<Message>) -> Vec<Message> {
        let mode =
            host::setting("mode").or_else(|| conv.custom_field("tileDisplay").map(str::to_owned));
        let mode = match mode.as_deref() {
            Some("horizontal") => Mode::Horizontal,
            _ => Mode::Vertical,
        };
        arrange(mode, messages)
    }
}

/// Lays the bot's messages out in `mode`.
pub fn arrange(mode: Mode, messages: Vec<Message>) -> Vec<Message> {
    match mode {
        Mode::Horizontal => join_cards(messages),
        Mode::Vertical => split_carousels(messages),
    }
}

fn card_of(message: &Message) -> Option<Element> {
    match &message.body {
        Content::Structured(json) => Element::from_json(json).ok().filter(Element::is_card),
        Content::Text(_) => None,
    }
}

fn join_cards(messages: Vec<Message>) -> Vec<Message> {
    let mut out = Vec::with_capacity(messages.len());
    let mut run: Vec<(Element, Message)> = Vec::new();
    for message in messages {
        match card_of(&message) {
            // A card with quick replies ends its run: the replies belong after it.
            Some(card) => {
                let ends_run = message.quick_replies.is_some();
                run.push((card, message));
                if ends_run {
                    flush(&mut run, &mut out);
                }
            }
            None => {
                flush(&mut run, &mut out);
                out.push(message);
            }
        }
    }
    flush(&mut run, &mut out);
    out
}

fn flush(run: &mut Vec<(Element, Message)>, out: &mut Vec<Message>) {
    if run.len() < *CAROUSEL_CARDS.start() {
        out.extend(run.drain(..).map(|(_, message)| message));
        return;
    }
    let max = *CAROUSEL_CARDS.end();
    let chunks = run.len().div_ceil(max);
    let (base, extra) = (run.len() / chunks, run.len() % chunks);
    let mut cards = run.drain(..);
    for chunk in 0..chunks {
        let size = base + usize::from(chunk < extra);
        let taken: Vec<(Element, Message)> = cards.by_ref().take(size).collect();
        let quick_replies = taken.last().and_then(|(_, m)| m.quick_replies.clone());
        let carousel = Element::carousel(taken.into_iter().map(|(card, _)| card));
        out.push(Message {
            body: Content::Structured(carousel.to_json()),
            quick_replies,
        });
    }
}

fn split_carousels(messages: Vec<Message>) -> Vec<Message> {
    let mut out = Vec::with_capacity(messages.len());
    for message in messages {
        let carousel = match &message.body {
            Content::Structured(json) => match Element::from_json(json) {
                Ok(Element::Carousel(carousel)) => Some(carousel),
                _ => None,
            },
            Content::Text(_) => None,
        };
        match carousel {
            Some(carousel) => {
                let count = carousel.elements.len();
                for (index, card) in carousel.elements.into_iter().enumerate() {
                    out.push(Message {
                        body: Content::Structured(card.to_json()),
                        quick_replies: if index + 1 == count {
                            message.quick_replies.clone()
                        } else {
                            None
                        },
                    });
                }
            }
            None => out.push(message),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(title: &str) -> Message {
        Message::structured(&Element::vertical([Element::text(title)]))
    }

    fn kinds(messages: &[Message]) -> Vec<String> {
        messages
            .iter()
            .map(|m| match &m.body {
                Content::Text(t) => format!("text:{t}"),
                Content::Structured(json) => {
                    let value: serde_json::Value = serde_json::from_str(json).unwrap();
                    match value["type"].as_str().unwrap() {
                        "carousel" => {
                            format!("carousel:{}", value["elements"].as_array().unwrap().len())
                        }
                        other => other.to_string(),
                    }
                }
            })
            .collect()
    }

    #[test]
    fn horizontal_joins_consecutive_cards_into_one_carousel() {
        let out = arrange(
            Mode::Horizontal,
            vec![Message::text("Our plans"), card("A"), card("B"), card("C")],
        );
        assert_eq!(kinds(&out), ["text:Our plans", "carousel:3"]);
    }

    #[test]
    fn horizontal_leaves_a_lone_card_and_splits_long_runs_evenly() {
        assert_eq!(
            kinds(&arrange(Mode::Horizontal, vec![card("A")])),
            ["vertical"]
        );
        let many: Vec<Message> = (0..11).map(|i| card(&i.to_string())).collect();
        assert_eq!(
            kinds(&arrange(Mode::Horizontal, many)),
            ["carousel:6", "carousel:5"]
        );
    }

    #[test]
    fn vertical_unfolds_a_carousel_and_keeps_quick_replies_last() {
        let carousel = Element::carousel([
            Element::vertical([Element::text("A")]),
            Element::vertical([Element::text("B")]),
        ]);
        let mut message = Message::structured(&carousel);
        message.quick_replies = Some("{}".into());
        let out = arrange(Mode::Vertical, vec![message]);
        assert_eq!(kinds(&out), ["vertical", "vertical"]);
        assert!(out[0].quick_replies.is_none() && out[1].quick_replies.is_some());
    }
}
