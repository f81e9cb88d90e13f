//! The agent side's kinds: the one table of every request an agent
//! connector sends (LivePerson's Messaging Agent API, as the embedded hub
//! serves it and LivePerson's official agent SDK sends it) and every
//! notification it receives. Each `type` string is written here and
//! nowhere else; see `kind` for how a row becomes types.

use serde_json::Value;

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
use crate::users::GetUserProfile;

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
        GetUserProfile(GetUserProfile) -> Value = ".ams.userprofile.GetUserProfile";
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
