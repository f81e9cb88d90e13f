//! The consumer side's kinds: the one table of every request a consumer's
//! web chat sends (the subset of LivePerson's Messaging Window API the hub
//! serves) and every notification it receives. Bodies are the families'
//! types, shared with the agent side where the body is the same; the
//! consumer side names its response types itself instead of appending
//! `$Response`. See `kind` for how a row becomes types.

use crate::common::{Empty, Subscribed, Text};
use crate::connection::{Clock, GetClock, InitConnection};
use crate::conversations::{
    ConsumerRequestConversation, ConversationCreated, ExConversationChangeNotification,
    SubscribeExConversations, UnsubscribeExConversations,
};
use crate::envelope::{Frame, Untyped};
use crate::error::GENERIC_RESPONSE;
use crate::fields::UpdateConversationField;
use crate::kind::{Agent, Request};
use crate::messaging::{
    MessagingEventNotification, PublishEvent, Published, SubscribeMessagingEvents,
};
use crate::users::SetUserProfile;

requests!(
    /// A request on the consumer socket, as its server reads it.
    pub enum ConsumerRequest on Consumer {
        /// Authenticates the socket (JWT in the headers).
        InitConnection(InitConnection) -> Text = "InitConnection",
            answered ".ReqBody$StringResp";
        /// Keep-alive; the agent side's name is accepted too.
        GetClock(GetClock) -> Clock = "GetClock", also [<GetClock as Request<Agent>>::KIND];
        /// Asks for a conversation.
        ConsumerRequestConversation(ConsumerRequestConversation) -> ConversationCreated =
            "cm.ConsumerRequestConversation", answered "cm.RequestConversationResponse";
        /// Publishes an event.
        PublishEvent(PublishEvent) -> Published = "ms.PublishEvent",
            answered "ms.PublishEventResponse";
        /// A dialog's past and future events.
        SubscribeMessagingEvents(SubscribeMessagingEvents) -> Empty =
            "ms.SubscribeMessagingEvents",
            answered <SubscribeMessagingEvents as Request<Agent>>::RESPONSE_KIND;
        /// The consumer's conversations' state.
        SubscribeExConversations(SubscribeExConversations) -> Subscribed =
            "cqm.SubscribeExConversations", answered "cqm.SubscribeExConversationsResponse";
        /// Ends that subscription.
        UnsubscribeExConversations(UnsubscribeExConversations) -> Empty =
            "cqm.UnsubscribeExConversations", answered GENERIC_RESPONSE;
        /// Closes the conversation (the only field a consumer may change).
        UpdateConversationField(UpdateConversationField) -> Text =
            "cm.UpdateConversationField", answered "StringResponse";
        /// Says who the consumer is: names, engagement attributes.
        SetUserProfile(SetUserProfile) -> Text = "userprofile.SetUserProfile",
            answered ".ReqBody$StringResp";
    }
);

notifications!(
    /// A notification on the consumer socket, as a web chat reads it.
    pub enum ConsumerNotification on Consumer {
        /// The consumer's conversations changed.
        ExConversationChange(ExConversationChangeNotification) =
            "cqm.ExConversationChangeNotification";
        /// Events of a subscribed dialog.
        MessagingEvents(MessagingEventNotification) = "ms.MessagingEventNotification";
    }
);

/// What the consumer socket's server reads: typed requests.
pub type ConsumerServerFrame = Frame<ConsumerRequest, Untyped>;

/// What a consumer client reads: responses and typed notifications.
pub type ConsumerClientFrame = Frame<Untyped, ConsumerNotification>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FrameError;
    use crate::kind::{NotificationSet, RequestSet};

    #[test]
    fn every_kind_of_the_tables_is_listed_once_and_read_by_its_name() {
        let empty = serde_json::value::RawValue::from_string("{}".into()).unwrap();
        for kinds in [ConsumerRequest::KINDS, ConsumerNotification::KINDS] {
            let mut sorted = kinds.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), kinds.len(), "{kinds:?}");
        }
        for kind in ConsumerRequest::KINDS {
            // An empty body does not fit most kinds, but the kind is known.
            match ConsumerRequest::from_kind(kind, Some(&*empty)) {
                Some(Ok(request)) => assert_eq!(RequestSet::kind(&request), *kind),
                Some(Err(_)) => {}
                None => panic!("{kind} is not read"),
            }
        }
        for kind in ConsumerNotification::KINDS {
            assert!(
                ConsumerNotification::from_kind(kind, Some(&*empty)).is_some(),
                "{kind}"
            );
        }
    }

    #[test]
    fn a_kind_of_the_other_side_is_an_unknown_type() {
        let text = format!(
            r#"{{"kind":"req","id":"1","type":"{}","body":{{}}}}"#,
            ".ams.routing.SetAgentState"
        );
        assert!(matches!(
            ConsumerServerFrame::parse(&text),
            Err(FrameError::UnknownType {
                frame: "request",
                side: "consumer",
                ..
            })
        ));
    }
}
