//! The agent side's kinds: the one table of every request an agent
//! connector sends (LivePerson's Messaging Agent API, as the embedded hub
//! serves it and LivePerson's official agent SDK sends it) and every
//! notification it receives. Each `type` string is written here and
//! nowhere else; see `kind` for how a row becomes types.

use crate::common::{Empty, Subscribed, Text};
use crate::connection::GetClock;
use crate::conversations::{
    AgentRequestConversation, ConversationCreated, ExConversationChangeNotification,
    SubscribeExConversations, UnsubscribeExConversations,
};
use crate::envelope::{Frame, Untyped};
use crate::fields::UpdateConversationField;
use crate::kind::{Consumer, Notification, Request};
use crate::messaging::{
    EventRecord, MessagingEventNotification, PublishEvent, Published, QueryMessages,
    SubscribeMessagingEvents,
};
use crate::routing::{
    AgentStateNotification, RoutingTaskNotification, SetAgentState, SubscribeAgentsState,
    SubscribeRoutingTasks, UpdateRingState,
};
use crate::users::{GetUserProfile, UserProfile};

requests!(
    /// A request on the agent socket, as its server reads it.
    pub enum AgentRequest on Agent {
        /// Keep-alive; the consumer side's name is accepted too.
        GetClock(GetClock) -> crate::connection::Clock = ".GetClock",
            also [<GetClock as Request<Consumer>>::KIND];
        /// Availability.
        SetAgentState(SetAgentState) -> Empty = ".ams.routing.SetAgentState";
        /// Conversation state notifications.
        SubscribeExConversations(SubscribeExConversations) -> Subscribed =
            ".ams.aam.SubscribeExConversations";
        /// Ends a conversation subscription; `cqm` is the service's older name.
        UnsubscribeExConversations(UnsubscribeExConversations) -> Empty =
            ".ams.aam.UnsubscribeExConversations", also [".ams.cqm.UnsubscribeExConversations"];
        /// Rings.
        SubscribeRoutingTasks(SubscribeRoutingTasks) -> Subscribed =
            ".ams.routing.SubscribeRoutingTasks";
        /// An agent user's state changes.
        SubscribeAgentsState(SubscribeAgentsState) -> Subscribed =
            ".ams.routing.SubscribeAgentsState";
        /// Accepts or rejects a ring.
        UpdateRingState(UpdateRingState) -> Empty = ".ams.routing.UpdateRingState";
        /// Publishes an event.
        PublishEvent(PublishEvent) -> Published = ".ams.ms.PublishEvent";
        /// A page of history (the official agent SDK's exact response type).
        QueryMessages(QueryMessages) -> Vec<EventRecord> = ".ams.ms.QueryMessages";
        /// A dialog's history as notifications; the consumer side's name is accepted too.
        SubscribeMessagingEvents(SubscribeMessagingEvents) -> Empty =
            ".ams.ms.SubscribeMessagingEvents",
            also [<SubscribeMessagingEvents as Request<Consumer>>::KIND],
            answered "GenericSubscribeResponse";
        /// Opens an outbound conversation.
        AgentRequestConversation(AgentRequestConversation) -> ConversationCreated =
            ".ams.cm.AgentRequestConversation";
        /// Transfers, closes, joins, sets time to response.
        UpdateConversationField(UpdateConversationField) -> Text =
            ".ams.cm.UpdateConversationField";
        /// A consumer's profile.
        GetUserProfile(GetUserProfile) -> UserProfile = ".ams.userprofile.GetUserProfile";
    }
);

notifications!(
    /// A notification on the agent socket, as a connector reads it.
    pub enum AgentNotification on Agent {
        /// Conversations of a subscription changed.
        ExConversationChange(ExConversationChangeNotification) =
            ".ams.aam.ExConversationChangeNotification";
        /// Rings.
        RoutingTask(RoutingTaskNotification) = ".ams.routing.RoutingTaskNotification";
        /// A watched agent's state.
        AgentState(AgentStateNotification) = ".ams.routing.AgentStateNotification";
        /// A live event of a conversation the agent takes part in.
        OnlineEvent(EventRecord) = ".ams.ms.OnlineEventDistribution";
        /// A dialog's history (`SubscribeMessagingEvents`), under the consumer side's name.
        MessagingEvents(MessagingEventNotification) =
            <MessagingEventNotification as Notification<Consumer>>::KIND;
    }
);

/// What the agent socket's server reads: typed requests.
pub type AgentServerFrame = Frame<AgentRequest, Untyped>;

/// What an agent connector reads: responses and typed notifications.
pub type AgentClientFrame = Frame<Untyped, AgentNotification>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FrameError;
    use crate::kind::{NotificationSet, RequestSet};

    #[test]
    fn every_kind_of_the_tables_is_listed_once_and_read_by_its_name() {
        let empty = serde_json::value::RawValue::from_string("{}".into()).unwrap();
        for kinds in [AgentRequest::KINDS, AgentNotification::KINDS] {
            let mut sorted = kinds.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), kinds.len(), "{kinds:?}");
        }
        for kind in AgentRequest::KINDS {
            // An empty body does not fit most kinds, but the kind is known.
            match AgentRequest::from_kind(kind, Some(&*empty)) {
                Some(Ok(request)) => assert_eq!(RequestSet::kind(&request), *kind),
                Some(Err(_)) => {}
                None => panic!("{kind} is not read"),
            }
        }
        for kind in AgentNotification::KINDS {
            assert!(
                AgentNotification::from_kind(kind, Some(&*empty)).is_some(),
                "{kind}"
            );
        }
    }

    #[test]
    fn a_kind_of_the_other_side_is_an_unknown_type() {
        let text = format!(
            r#"{{"kind":"req","id":"1","type":"{}","body":{{}}}}"#,
            "cm.ConsumerRequestConversation"
        );
        assert!(matches!(
            AgentServerFrame::parse(&text),
            Err(FrameError::UnknownType {
                frame: "request",
                side: "agent",
                ..
            })
        ));
    }
}
