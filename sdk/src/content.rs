//! Typed LivePerson structured content and quick replies.
//!
//! The types serialize to the JSON that LivePerson's structured-content
//! schemas accept, and parse it back; fields this module does not model are
//! kept in `extra` so a plugin that edits content never loses what a bot sent.
//!
//! ```
//! use switchboard_sdk::content::{Button, Element};
//! let card = Element::vertical([
//!     Element::image("https://example.com/a.png").caption("A"),
//!     Element::text("Plan A"),
//!     Button::new("Choose A").publish_text("plan a").into(),
//! ]);
//! assert!(card.to_json().starts_with(r#"{"type":"vertical""#));
//! ```

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The longest tooltip LivePerson accepts, in characters.
pub const TOOLTIP_MAX_CHARS: usize = 256;
/// The longest button title LivePerson accepts, in characters.
pub const TITLE_MAX_CHARS: usize = 128;
/// The fewest and most cards a carousel may hold.
pub const CAROUSEL_CARDS: std::ops::RangeInclusive<usize> = 2..=10;

/// Cuts `text` to at most `max` characters (never inside a character).
pub fn truncate_chars(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// One structured-content element.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Element {
    /// Elements stacked top to bottom (a card).
    Vertical(Layout),
    /// Elements side by side.
    Horizontal(Layout),
    /// 2 to 10 cards the consumer swipes through.
    Carousel(Carousel),
    /// A text element.
    Text(Text),
    /// A button.
    Button(Button),
    /// An image.
    Image(Image),
    /// A map pin.
    Map(MapPin),
}

/// The body of `vertical` and `horizontal`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct Layout {
    /// The children.
    pub elements: Vec<Element>,
    /// Fields not modelled here, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The body of `carousel`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct Carousel {
    /// Space between cards, 0 to 10.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub padding: Option<u8>,
    /// The cards (vertical layouts).
    pub elements: Vec<Element>,
    /// What screen readers read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tooltip: Option<String>,
    /// Fields not modelled here, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The body of `text`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct Text {
    /// The text shown.
    pub text: String,
    /// What screen readers read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tooltip: Option<String>,
    /// Fields not modelled here (`rtl`, `style`, ...), kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The body of `button`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct Button {
    /// The label, at most 128 characters.
    pub title: String,
    /// What screen readers read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tooltip: Option<String>,
    /// What happens on a click.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub click: Option<Click>,
    /// Fields not modelled here, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The body of `image`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct Image {
    /// Where the image is.
    pub url: String,
    /// A caption shown under it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// What screen readers read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tooltip: Option<String>,
    /// What happens on a click.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub click: Option<Click>,
    /// Fields not modelled here, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The body of `map`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct MapPin {
    /// Latitude.
    pub la: f64,
    /// Longitude.
    pub lo: f64,
    /// What screen readers read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tooltip: Option<String>,
    /// What happens on a click.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub click: Option<Click>,
    /// Fields not modelled here, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A click: up to four actions plus optional metadata.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct Click {
    /// The actions, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Action>,
    /// Metadata sent back with the click.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Vec<Value>>,
}

/// A click action.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Action {
    /// Publishes this text as if the consumer typed it.
    PublishText {
        /// The text.
        text: String,
    },
    /// Opens a link.
    Link {
        /// The address.
        uri: String,
        /// A name for it.
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// Where it opens (`self`, `blank`, `slideout`).
        #[serde(skip_serializing_if = "Option::is_none")]
        target: Option<String>,
    },
    /// Opens navigation to a place.
    Navigate {
        /// Latitude.
        la: f64,
        /// Longitude.
        lo: f64,
    },
}

/// Quick replies: buttons shown under a message until the consumer answers.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename = "quickReplies")]
pub struct QuickReplies {
    /// Buttons per row, 1 to 8.
    #[serde(rename = "itemsPerRow")]
    pub items_per_row: u8,
    /// The buttons.
    pub replies: Vec<Element>,
    /// Fields not modelled here, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Element {
    /// A card: elements stacked top to bottom.
    pub fn vertical(elements: impl IntoIterator<Item = Element>) -> Element {
        Element::Vertical(Layout {
            elements: elements.into_iter().collect(),
            extra: Map::new(),
        })
    }

    /// Elements side by side.
    pub fn horizontal(elements: impl IntoIterator<Item = Element>) -> Element {
        Element::Horizontal(Layout {
            elements: elements.into_iter().collect(),
            extra: Map::new(),
        })
    }

    /// A carousel of cards (LivePerson accepts 2 to 10).
    pub fn carousel(cards: impl IntoIterator<Item = Element>) -> Element {
        Element::Carousel(Carousel {
            padding: Some(10),
            elements: cards.into_iter().collect(),
            tooltip: None,
            extra: Map::new(),
        })
    }

    /// A text element.
    pub fn text(text: impl Into<String>) -> Element {
        Element::Text(Text {
            text: text.into(),
            ..Text::default()
        })
    }

    /// An image element; add a caption with [`Element::caption`].
    pub fn image(url: impl Into<String>) -> Element {
        Element::Image(Image {
            url: url.into(),
            ..Image::default()
        })
    }

    /// A map pin.
    pub fn map(la: f64, lo: f64) -> Element {
        Element::Map(MapPin {
            la,
            lo,
            ..MapPin::default()
        })
    }

    /// Sets the caption of an image (no effect on other elements).
    pub fn caption(mut self, caption: impl Into<String>) -> Element {
        if let Element::Image(image) = &mut self {
            image.caption = Some(caption.into());
        }
        self
    }

    /// Sets the tooltip, cut to 256 characters. Layouts have no tooltip in
    /// LivePerson's schema, so this does nothing on `vertical` and `horizontal`.
    pub fn tooltip(mut self, tooltip: impl AsRef<str>) -> Element {
        if let Some(slot) = self.tooltip_slot() {
            *slot = Some(truncate_chars(tooltip.as_ref(), TOOLTIP_MAX_CHARS));
        }
        self
    }

    /// The element's tooltip field, for the elements that have one.
    pub fn tooltip_slot(&mut self) -> Option<&mut Option<String>> {
        match self {
            Element::Vertical(_) | Element::Horizontal(_) => None,
            Element::Carousel(c) => Some(&mut c.tooltip),
            Element::Text(t) => Some(&mut t.tooltip),
            Element::Button(b) => Some(&mut b.tooltip),
            Element::Image(i) => Some(&mut i.tooltip),
            Element::Map(m) => Some(&mut m.tooltip),
        }
    }

    /// The children of a layout or carousel.
    pub fn children_mut(&mut self) -> Option<&mut Vec<Element>> {
        match self {
            Element::Vertical(l) | Element::Horizontal(l) => Some(&mut l.elements),
            Element::Carousel(c) => Some(&mut c.elements),
            _ => None,
        }
    }

    /// True for a card (a vertical layout), what carousels hold.
    pub fn is_card(&self) -> bool {
        matches!(self, Element::Vertical(_))
    }

    /// The JSON text LivePerson expects.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("structured content always serializes")
    }

    /// Parses structured content JSON.
    pub fn from_json(json: &str) -> Result<Element, serde_json::Error> {
        serde_json::from_str(json)
    }
}

impl Button {
    /// A button with this title (cut to 128 characters).
    pub fn new(title: impl AsRef<str>) -> Button {
        Button {
            title: truncate_chars(title.as_ref(), TITLE_MAX_CHARS),
            ..Button::default()
        }
    }

    /// Adds an action that publishes `text` for the consumer.
    pub fn publish_text(self, text: impl Into<String>) -> Button {
        self.action(Action::PublishText { text: text.into() })
    }

    /// Adds an action that opens `uri`.
    pub fn link(self, uri: impl Into<String>) -> Button {
        self.action(Action::Link {
            uri: uri.into(),
            name: None,
            target: None,
        })
    }

    /// Adds an action (LivePerson allows four per click).
    pub fn action(mut self, action: Action) -> Button {
        self.click
            .get_or_insert_with(Click::default)
            .actions
            .push(action);
        self
    }
}

impl From<Button> for Element {
    fn from(button: Button) -> Element {
        Element::Button(button)
    }
}

impl Default for QuickReplies {
    fn default() -> Self {
        QuickReplies {
            items_per_row: 8,
            replies: Vec::new(),
            extra: Map::new(),
        }
    }
}

impl QuickReplies {
    /// No replies yet, eight per row.
    pub fn new() -> QuickReplies {
        QuickReplies::default()
    }

    /// Adds a reply button with `title` that publishes `text` when tapped.
    pub fn reply(mut self, title: impl AsRef<str>, text: impl Into<String>) -> QuickReplies {
        self.replies
            .push(Button::new(title).publish_text(text).into());
        self
    }

    /// The JSON text LivePerson expects beside an event.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("quick replies always serialize")
    }

    /// Parses quick replies JSON.
    pub fn from_json(json: &str) -> Result<QuickReplies, serde_json::Error> {
        serde_json::from_str(json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_serializes_to_livepersons_shape() {
        let card = Element::vertical([
            Element::text("Plan A").tooltip("The A plan"),
            Button::new("Choose").publish_text("a").into(),
        ]);
        let value: Value = serde_json::from_str(&card.to_json()).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"type":"vertical","elements":[
                {"type":"text","text":"Plan A","tooltip":"The A plan"},
                {"type":"button","title":"Choose","click":{"actions":[{"type":"publishText","text":"a"}]}}
            ]})
        );
    }

    #[test]
    fn unknown_fields_survive_a_round_trip() {
        let json = r#"{"type":"text","text":"hi","rtl":true,"style":{"bold":true}}"#;
        let element = Element::from_json(json).unwrap();
        let back: Value = serde_json::from_str(&element.to_json()).unwrap();
        assert_eq!(back, serde_json::from_str::<Value>(json).unwrap());
    }

    #[test]
    fn quick_replies_serialize_with_type_and_items_per_row() {
        let replies = QuickReplies::new().reply("Yes", "yes");
        let value: Value = serde_json::from_str(&replies.to_json()).unwrap();
        assert_eq!(value["type"], "quickReplies");
        assert_eq!(value["itemsPerRow"], 8);
        assert_eq!(value["replies"][0]["click"]["actions"][0]["text"], "yes");
    }

    #[test]
    fn tooltip_is_cut_to_256_characters() {
        let long = "é".repeat(300);
        let Element::Text(text) = Element::text("x").tooltip(&long) else {
            unreachable!()
        };
        assert_eq!(text.tooltip.unwrap().chars().count(), TOOLTIP_MAX_CHARS);
    }
}
