//! LivePerson's messaging protocol as serde types: the frames of the agent
//! WebSocket (LivePerson's Messaging Agent API, what a connector speaks)
//! and of the consumer WebSocket (LivePerson's Messaging Window API, what
//! a web chat speaks), for both ends of each: the connector's client and
//! the embedded hub's server.
//!
//! Parse at the edge, then work with typed values: a server reads a frame
//! into its side's request enum and answers through the request; a client
//! writes typed request bodies and reads its side's notification enum.
//!
//! ```
//! use lp::{Agent, AgentRequest, AgentServerFrame, Frame};
//! use lp::common::Empty;
//! use lp::routing::{Availability, SetAgentState};
//!
//! // A connector writes a request...
//! let state = SetAgentState { availability: Availability::Online, channels: vec![], agent_user_id: None };
//! let text = Agent::request("1", &state);
//!
//! // ...the hub reads it, acts, and answers under the right response type.
//! let Ok(Frame::Request(incoming)) = AgentServerFrame::parse(&text) else { unreachable!() };
//! assert_eq!(incoming.request, AgentRequest::SetAgentState(state));
//! let answer = incoming.respond(200, &Empty {});
//! assert!(answer.contains(r#""type":".ams.routing.SetAgentState$Response""#));
//! ```
//!
//! Peers are read tolerantly (unknown fields ignored, optional fields
//! `Option`, unknown enum values and tagged objects kept as `Other`) and
//! written exactly (nothing absent is written).
//!
//! # Layout
//!
//! - [`envelope`]: the `req`/`resp`/`notification` envelope; [`Frame::parse`]
//!   and the frame writers; [`Incoming`] (a request to answer) and
//!   [`ResponseFrame`] (an answer to decode).
//! - [`error`]: [`FrameError`] (a frame that cannot be read) and
//!   [`ErrorResponse`] (a refusal: code and message).
//! - [`kind`]: which body travels under which `type`, on which side: the
//!   [`Request`] and [`Notification`] traits, the [`Agent`] and [`Consumer`]
//!   side markers that write frames, and the table macros.
//! - [`agent`] and [`consumer`]: each side's one table of kinds, and the
//!   enums ([`AgentRequest`], [`AgentNotification`], [`ConsumerRequest`],
//!   [`ConsumerNotification`]) a server or client parses into.
//! - [`common`]: id newtypes, roles, channels, change wrappers, plain responses.
//! - The families, one file each, bodies shared by both sides:
//!   [`connection`] (`InitConnection` and its headers, `GetClock`),
//!   [`conversations`] (opening conversations, subscribing to their state),
//!   [`fields`] (`UpdateConversationField`: transfer, close, time to response),
//!   [`routing`] (availability, rings, agent states),
//!   [`messaging`] (`PublishEvent`, events, history and event notifications),
//!   [`metadata`] (bot context on events and transfers),
//!   [`users`] (`GetUserProfile`).
//! - [`login`]: the HTTP before the sockets: the domain lookup and the
//!   agent login API's bodies (login, refresh).
//! - [`client`] (feature `client`): the one WebSocket client of either
//!   side, with typed requests matched to their responses.
//! - `macros`: the string-enum, tagged-object and id shapes, written once.

#![deny(missing_docs)]

#[macro_use]
mod macros;
#[macro_use]
pub mod kind;

pub mod agent;
#[cfg(feature = "client")]
pub mod client;
pub mod common;
pub mod connection;
pub mod consumer;
pub mod conversations;
pub mod envelope;
pub mod error;
pub mod fields;
pub mod login;
pub mod messaging;
pub mod metadata;
pub mod routing;
pub mod users;

pub use agent::{AgentClientFrame, AgentNotification, AgentRequest, AgentServerFrame};
pub use consumer::{
    ConsumerClientFrame, ConsumerNotification, ConsumerRequest, ConsumerServerFrame,
};
pub use envelope::{Frame, Incoming, ResponseFrame, Untyped};
pub use error::{ErrorResponse, FrameError};
pub use kind::{
    Agent, Consumer, Notification, NotificationSet, ReadKind, Request, RequestSet, Side,
};
