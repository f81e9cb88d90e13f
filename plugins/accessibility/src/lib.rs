//! The accessibility plugin: when the connector's `accessibility` option is
//! on, every structured-content element that LivePerson lets carry a
//! `tooltip` (text, button, image, map, carousel) and every quick reply gets
//! one if it lacks it, so screen readers have something to read.
//!
//! A tooltip is derived from the element itself: a text's text, a button's
//! title, an image's caption (or "Image"), a map's coordinates, a carousel's
//! card count; it is cut to 256 characters, LivePerson's limit, and so is an
//! over-long tooltip the bot sent. Layouts (`vertical`, `horizontal`) have no
//! tooltip in LivePerson's schema and get none.
//!
//! Setting `always = "true"` applies the plugin even when the option is off.

use switchboard_sdk::content::{Element, QuickReplies, TOOLTIP_MAX_CHARS, truncate_chars};
use switchboard_sdk::{Content, Conversation, Message, Plugin, host};

/// The plugin type.
pub struct Accessibility;

#[switchboard_sdk::plugin]
impl Plugin for Accessibility {
    fn on_bot_message(conv: &Conversation, messages: Vec<Message>) -> Vec<Message> {
        if conv.accessibility || host::setting("always").as_deref() == Some("true") {
            messages.into_iter().map(add_tooltips).collect()
        } else {
            messages
        }
    }
}

/// Gives one message's structured content and quick replies their tooltips.
/// Content that does not parse is left as it is.
pub fn add_tooltips(mut message: Message) -> Message {
    if let Content::Structured(json) = &message.body
        && let Ok(mut element) = Element::from_json(json)
    {
        tooltip_tree(&mut element);
        message.body = Content::Structured(element.to_json());
    }
    if let Some(json) = &message.quick_replies
        && let Ok(mut replies) = QuickReplies::from_json(json)
    {
        replies.replies.iter_mut().for_each(tooltip_tree);
        message.quick_replies = Some(replies.to_json());
    }
    message
}

/// Adds tooltips to `element` and everything inside it.
pub fn tooltip_tree(element: &mut Element) {
    let derived = derive(element);
    if let (Some(slot), Some(derived)) = (element.tooltip_slot(), derived) {
        let tooltip = slot
            .take()
            .filter(|t| !t.trim().is_empty())
            .unwrap_or(derived);
        *slot = Some(truncate_chars(&tooltip, TOOLTIP_MAX_CHARS));
    }
    if let Some(children) = element.children_mut() {
        children.iter_mut().for_each(tooltip_tree);
    }
}

fn derive(element: &Element) -> Option<String> {
    match element {
        Element::Vertical(_) | Element::Horizontal(_) => None,
        Element::Carousel(c) => Some(format!("Carousel of {} cards", c.elements.len())),
        Element::Text(t) => Some(t.text.clone()),
        Element::Button(b) => Some(b.title.clone()),
        Element::Image(i) => Some(i.caption.clone().unwrap_or_else(|| "Image".to_owned())),
        Element::Map(m) => Some(format!("Map at {}, {}", m.la, m.lo)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_sdk::content::Button;

    #[test]
    fn every_element_that_can_carry_a_tooltip_gets_one() {
        let card = Element::vertical([
            Element::image("https://example.com/a.png").caption("Plan A"),
            Element::text("Ten gigabytes"),
            Button::new("Choose A").publish_text("a").into(),
            Element::map(1.5, 2.0),
        ]);
        let message = add_tooltips(Message::structured(&card));
        let Content::Structured(json) = message.body else {
            unreachable!()
        };
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        let tooltips: Vec<&str> = value["elements"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["tooltip"].as_str().unwrap())
            .collect();
        assert_eq!(
            tooltips,
            ["Plan A", "Ten gigabytes", "Choose A", "Map at 1.5, 2"]
        );
        assert!(value.get("tooltip").is_none(), "layouts carry no tooltip");
    }

    #[test]
    fn existing_tooltips_are_kept_and_long_ones_cut() {
        let mut element = Element::text("x").tooltip("mine");
        tooltip_tree(&mut element);
        assert_eq!(element, Element::text("x").tooltip("mine"));
        let mut long = Element::text("y".repeat(400));
        tooltip_tree(&mut long);
        let Element::Text(text) = long else {
            unreachable!()
        };
        assert_eq!(text.tooltip.unwrap().len(), 256);
    }

    #[test]
    fn quick_replies_get_their_titles_as_tooltips() {
        let message =
            Message::text("Pick").with_quick_replies(&QuickReplies::new().reply("Yes", "yes"));
        let replies =
            QuickReplies::from_json(&add_tooltips(message).quick_replies.unwrap()).unwrap();
        let Element::Button(button) = &replies.replies[0] else {
            unreachable!()
        };
        assert_eq!(button.tooltip.as_deref(), Some("Yes"));
    }
}
