//! Each conversation's event log: publishing (both sides), the last
//! `limits::KEPT_EVENTS` kept in sequence order, history pages and dialog
//! subscriptions, and the event frames each side sees.
//!
//! An agent may publish a private message (`messageAudience`
//! `AGENTS_AND_MANAGERS`): as on LivePerson, agents see it, marked with its
//! audience, live and in history; the consumer never does, neither live
//! nor in the history its subscription replays.
//!
//! Encoded metadata published with an event goes out with it live and is
//! not kept: as on LivePerson, history has none.

use lp::common::Role;
use lp::messaging::{
    EncodedMetadata, Event, EventRecord, MessageAudience, MessagingEventNotification, Originator,
};

use super::{Conversation, HubState, Refusal, not_logged_in, outbox, refuse};
use crate::clock::now_ms;
use crate::hub::limits;

/// An event as published: whether only agents may see it, and the encoded
/// metadata that goes out with it live.
pub struct Posted {
    /// The event.
    pub event: Event,
    /// For agents and managers only.
    pub private: bool,
    /// Passed on live, not kept.
    pub encoded_metadata: Option<EncodedMetadata>,
}

/// One event of a conversation's history.
#[derive(Clone, Debug)]
pub struct StoredEvent {
    pub sequence: u64,
    /// Account-qualified id (`123.cons-1`, `123.bot-user`).
    pub originator_id: String,
    /// Participant id (consumer id or the agent's pid).
    pub originator_pid: String,
    /// CONSUMER or ASSIGNED_AGENT.
    pub role: Role,
    pub server_ts: u64,
    pub event: Event,
    /// Published with `messageAudience` `AGENTS_AND_MANAGERS`: for agents
    /// only. A flag rather than an `lp::messaging::MessageAudience`, which
    /// keeps values it does not know as strings (three words an event,
    /// every event of every conversation): the hub refuses those when
    /// they are published, so two values are all it stores.
    pub private: bool,
}

/// Who is shown an event: agents see every one, the consumer no private one.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    Agents,
    Consumer,
}

/// Up to this many events, a conversation's history grows one event at a time.
const SHORT_HISTORY: usize = 4;

impl HubState {
    /// The past events of a dialog from `from_seq` on, sent to an agent
    /// connection as `ms.MessagingEventNotification`s of at most
    /// [`limits::HISTORY_PAGE`] changes each: what
    /// `.ams.ms.SubscribeMessagingEvents` delivers on the agent side (the
    /// live events reach participants as `OnlineEventDistribution`).
    pub fn send_history(&self, conn: u64, dialog_id: &str, from_seq: u64) {
        let (Some(agent), Some(conv)) = (self.agents.get(&conn), self.conversations.get(dialog_id))
        else {
            return;
        };
        for changes in changes_from(conv, from_seq, Side::Agents).chunks(limits::HISTORY_PAGE) {
            let note = MessagingEventNotification {
                dialog_id: Some(dialog_id.into()),
                changes: changes.to_vec(),
            };
            Self::send(&agent.outbox, lp::Agent::notification(&note));
        }
    }

    /// An agent publishes an event into a conversation it is assigned to,
    /// for everyone or (`audience` `AGENTS_AND_MANAGERS`) for agents only.
    /// An audience the hub does not know is refused: taken as everyone, a
    /// message meant to be private would reach the consumer.
    pub fn agent_publish(
        &mut self,
        conn: u64,
        conv_id: &str,
        event: Event,
        audience: Option<MessageAudience>,
        encoded_metadata: Option<EncodedMetadata>,
    ) -> Result<u64, Refusal> {
        let agent = self.agents.get(&conn).ok_or_else(not_logged_in)?;
        let private = match audience {
            None | Some(MessageAudience::All) => false,
            Some(MessageAudience::AgentsAndManagers) => true,
            Some(MessageAudience::Other(unknown)) => {
                return refuse(
                    400,
                    format!(
                        "messageAudience {unknown} is unknown: use {} or {}",
                        MessageAudience::All,
                        MessageAudience::AgentsAndManagers
                    ),
                );
            }
        };
        let (user_id, pid) = (agent.user_id.clone(), agent.pid.clone());
        let conv = self
            .conversations
            .get(conv_id)
            .ok_or_else(|| Refusal::new(404, format!("no conversation {conv_id}")))?;
        if conv.assigned.as_deref() != Some(user_id.as_str()) {
            return refuse(403, format!("agent {user_id} is not assigned to {conv_id}"));
        }
        if !conv.open {
            return refuse(400, format!("conversation {conv_id} is closed"));
        }
        let posted = Posted {
            event,
            private,
            encoded_metadata,
        };
        Ok(self.append(conv_id, user_id, pid, Role::AssignedAgent, posted))
    }

    /// A consumer publishes an event into its conversation.
    pub fn consumer_publish(
        &mut self,
        consumer_id: &str,
        conv_id: &str,
        event: Event,
        encoded_metadata: Option<EncodedMetadata>,
    ) -> Result<u64, Refusal> {
        let conv = self
            .conversations
            .get(conv_id)
            .ok_or_else(|| Refusal::new(404, format!("no conversation {conv_id}")))?;
        if conv.consumer_id != consumer_id {
            return refuse(
                403,
                format!("conversation {conv_id} is not this consumer's"),
            );
        }
        if !conv.open {
            return refuse(400, format!("conversation {conv_id} is closed"));
        }
        let originator = format!("{}.{consumer_id}", self.config.account);
        Ok(self.append(
            conv_id,
            originator,
            consumer_id.to_owned(),
            Role::Consumer,
            Posted {
                event,
                private: false,
                encoded_metadata,
            },
        ))
    }

    /// Records an event (chat states are passed on, not stored) and sends it
    /// to the agent side and, unless it is `private`, to the consumer side.
    /// Returns its sequence (0 for chat states).
    pub(super) fn append(
        &mut self,
        conv_id: &str,
        originator_id: String,
        originator_pid: String,
        role: Role,
        posted: Posted,
    ) -> u64 {
        let Posted {
            event,
            private,
            encoded_metadata,
        } = posted;
        let transient = matches!(event, Event::ChatState(_));
        let conv = self
            .conversations
            .get_mut(conv_id)
            .expect("checked by callers");
        let sequence = if transient {
            0
        } else {
            let sequence = conv.next_sequence;
            conv.next_sequence += 1;
            sequence
        };
        let stored = StoredEvent {
            sequence,
            originator_id,
            originator_pid,
            role,
            server_ts: now_ms(),
            event,
            private,
        };
        // The frames first, from the event as stored; then the history
        // takes the event itself, and each frame goes to its last reader
        // without a copy.
        let conv = &self.conversations[conv_id];
        // Agent side: every agent assigned to the conversation sees every event.
        if let Some(assigned) = &conv.assigned {
            let record = EventRecord {
                encoded_metadata: encoded_metadata.clone(),
                ..agent_event(conv, &stored, transient)
            };
            let frame = lp::Agent::notification(&record);
            let agents = self.agents.values().filter(|a| &a.user_id == assigned);
            outbox::send_each(agents.map(|agent| &agent.outbox), frame);
        }
        // Consumer side, unless private: every socket subscribed to the dialog.
        if !private {
            let note = MessagingEventNotification {
                dialog_id: None,
                changes: vec![EventRecord {
                    encoded_metadata,
                    ..consumer_change(conv, &stored, transient)
                }],
            };
            let subscribers = self.dialog_subscribers.get(conv_id).into_iter().flatten();
            let outboxes = subscribers
                .filter_map(|conn| self.consumers.get(conn).and_then(|c| c.outbox.as_ref()));
            outbox::send_each(outboxes, lp::Consumer::notification(&note));
        }
        if !transient {
            let conv = self
                .conversations
                .get_mut(conv_id)
                .expect("checked by callers");
            if conv.events.len() == limits::KEPT_EVENTS {
                conv.events.pop_front();
            }
            // A first allocation would hold four events; most of the
            // conversations a hub holds are short, so the first few grow
            // one at a time.
            if conv.events.len() == conv.events.capacity() && conv.events.len() < SHORT_HISTORY {
                conv.events.reserve_exact(1);
            }
            conv.events.push_back(stored);
        }
        sequence
    }

    /// Past events of a conversation, for `QueryMessages`: the first
    /// `page` of those from sequence `newer_than` on, oldest first.
    /// The bound is inclusive, as LivePerson's own agent SDK uses it: it
    /// sends a consumer's `fromSeq` (inclusive) as `newerThanSequence`, 0
    /// by default, and a dialog's first event is sequence 0.
    pub fn history(
        &self,
        conv_id: &str,
        newer_than: Option<u64>,
        page: usize,
    ) -> Result<Vec<EventRecord>, Refusal> {
        let conv = self
            .conversations
            .get(conv_id)
            .ok_or_else(|| Refusal::new(404, format!("no conversation {conv_id}")))?;
        // Events are kept in sequence order: a page starts by bisection.
        let start = conv
            .events
            .partition_point(|e| newer_than.is_some_and(|n| e.sequence < n));
        Ok(conv
            .events
            .range(start..)
            .take(page)
            .map(|e| agent_event(conv, e, false))
            .collect())
    }

    /// Forgets the consumer socket `conn` and its dialog subscriptions.
    pub fn remove_consumer(&mut self, conn: u64) {
        let Some(consumer) = self.consumers.remove(&conn) else {
            return;
        };
        if let Some(id) = &consumer.consumer_id {
            self.index.socket_signed_out(id, conn);
        }
        for dialog in &consumer.dialog_subscriptions {
            if let Some(subscribers) = self.dialog_subscribers.get_mut(dialog) {
                subscribers.retain(|c| *c != conn);
                if subscribers.is_empty() {
                    self.dialog_subscribers.remove(dialog);
                }
            }
        }
    }

    /// A consumer socket subscribes to a dialog's events: past ones from
    /// `from_seq` at once, new ones as they come.
    pub fn subscribe_dialog(
        &mut self,
        conn: u64,
        consumer_id: &str,
        dialog_id: &str,
        from_seq: u64,
    ) -> Result<(), Refusal> {
        let conv = self
            .conversations
            .get(dialog_id)
            .ok_or_else(|| Refusal::new(404, format!("no dialog {dialog_id}")))?;
        if conv.consumer_id != consumer_id {
            return refuse(403, format!("dialog {dialog_id} is not this consumer's"));
        }
        let changes = changes_from(conv, from_seq, Side::Consumer);
        let consumer = self
            .consumers
            .get_mut(&conn)
            .ok_or_else(|| Refusal::new(401, "not connected"))?;
        if consumer.dialog_subscriptions.insert(dialog_id.to_owned()) {
            self.dialog_subscribers
                .entry(dialog_id.to_owned())
                .or_default()
                .push(conn);
        }
        if let Some(outbox) = &consumer.outbox {
            for changes in changes.chunks(limits::HISTORY_PAGE) {
                let note = MessagingEventNotification {
                    dialog_id: None,
                    changes: changes.to_vec(),
                };
                Self::send(outbox, lp::Consumer::notification(&note));
            }
        }
        Ok(())
    }
}

/// The conversation's events from sequence `from_seq` on that `side` is
/// shown, as the changes of an `ms.MessagingEventNotification`.
fn changes_from(conv: &Conversation, from_seq: u64, side: Side) -> Vec<EventRecord> {
    let start = conv.events.partition_point(|e| e.sequence < from_seq);
    conv.events
        .range(start..)
        .filter(|e| side == Side::Agents || !e.private)
        .map(|e| consumer_change(conv, e, false))
        .collect()
}

/// An event as agents see it (`OnlineEventDistribution`, `QueryMessages`):
/// the sender account-qualified, and its pid. Chat states have no sequence.
fn agent_event(conv: &Conversation, e: &StoredEvent, transient: bool) -> EventRecord {
    EventRecord {
        originator_id: e.originator_id.as_str().into(),
        originator_pid: Some(e.originator_pid.as_str().into()),
        ..consumer_change(conv, e, transient)
    }
}

/// An event as consumers see it (`ms.MessagingEventNotification`): the
/// sender by pid. A private one, which only agents are shown, names its
/// audience.
fn consumer_change(conv: &Conversation, e: &StoredEvent, transient: bool) -> EventRecord {
    EventRecord {
        sequence: (!transient).then_some(e.sequence),
        dialog_id: conv.id.as_str().into(),
        conversation_id: Some(conv.id.as_str().into()),
        originator_id: e.originator_pid.as_str().into(),
        originator_pid: None,
        originator_metadata: Some(Originator {
            id: e.originator_pid.as_str().into(),
            role: e.role.clone(),
        }),
        server_timestamp: e.server_ts,
        event: e.event.clone(),
        message_audience: e.private.then_some(MessageAudience::AgentsAndManagers),
        metadata: Vec::new(),
        encoded_metadata: None,
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::*;
    use crate::hub::state::outbox::OutboxReader;
    use crate::hub::state::tests::{hub_state, text};
    use crate::hub::state::{Consumer, outbox};

    /// A socket of `consumer`, subscribed to `dialog` from its first event.
    fn subscribed_socket(
        state: &mut HubState,
        consumer: &str,
        dialog: &str,
    ) -> (u64, OutboxReader) {
        let (outbox, reader) = outbox();
        let conn = state.next_id();
        let socket = Consumer {
            outbox: Some(outbox),
            consumer_id: Some(consumer.into()),
            ..Consumer::default()
        };
        state.add_consumer(conn, socket);
        state.subscribe_dialog(conn, consumer, dialog, 0).unwrap();
        (conn, reader)
    }

    #[test]
    fn an_event_reaches_the_sockets_subscribed_to_its_dialog_and_no_other() {
        let mut state = hub_state();
        let mut sockets = Vec::new();
        for consumer in ["c", "d"] {
            let dialog = state.request_conversation(consumer, None, None).unwrap();
            let (conn, reader) = subscribed_socket(&mut state, consumer, &dialog);
            sockets.push((conn, dialog, reader));
        }
        let [(c, dialog, c_reader), (_, _, d_reader)] = &mut sockets[..] else {
            unreachable!("two sockets")
        };
        state.consumer_publish("c", dialog, text(1), None).unwrap();
        let heard = c_reader.next().now_or_never().flatten();
        assert!(heard.is_some_and(|frame| format!("{frame:?}").contains("m1")));
        assert!(
            d_reader.next().now_or_never().is_none(),
            "d is not subscribed"
        );
        // A socket that goes leaves no subscription behind.
        state.remove_consumer(*c);
        assert!(!state.dialog_subscribers.contains_key(dialog.as_str()));
        state.consumer_publish("c", dialog, text(2), None).unwrap();
    }

    #[test]
    fn encoded_metadata_goes_out_live_and_stays_out_of_history() {
        let mut state = hub_state();
        let dialog = state.request_conversation("c", None, None).unwrap();
        let (conn, mut live) = subscribed_socket(&mut state, "c", &dialog);
        let metadata = EncodedMetadata::new("SGk=").unwrap();
        state
            .consumer_publish("c", &dialog, text(1), Some(metadata))
            .unwrap();
        let heard = format!("{:?}", live.next().now_or_never().flatten());
        assert!(heard.contains(r#"\"encodedMetadata\":\"SGk=\""#), "{heard}");
        state.remove_consumer(conn);
        let (_, mut replayed) = subscribed_socket(&mut state, "c", &dialog);
        let history = format!("{:?}", replayed.next().now_or_never().flatten());
        assert!(
            history.contains("m1") && !history.contains("encodedMetadata"),
            "{history}"
        );
        let agents_see = state.history(&dialog, None, 10).unwrap();
        assert_eq!(agents_see[0].encoded_metadata, None);
    }

    #[test]
    fn a_private_message_is_kept_for_agents_and_never_shown_to_the_consumer() {
        let mut state = hub_state();
        let dialog = state.request_conversation("c", None, None).unwrap();
        let (conn, mut live) = subscribed_socket(&mut state, "c", &dialog);
        let (agent, pid) = ("123.human".to_owned(), "pid-human".to_owned());
        let role = Role::AssignedAgent;
        let posted = |n, private| Posted {
            event: text(n),
            private,
            encoded_metadata: None,
        };
        state.append(
            &dialog,
            agent.clone(),
            pid.clone(),
            role.clone(),
            posted(0, true),
        );
        state.append(&dialog, agent, pid, role, posted(1, false));
        let heard = live.next().now_or_never().flatten();
        assert!(heard.is_some_and(|frame| format!("{frame:?}").contains("m1")));
        assert!(
            live.next().now_or_never().is_none(),
            "the note stays private"
        );
        // A new socket subscribing from the first event gets the history without it.
        state.remove_consumer(conn);
        let (_, mut replayed) = subscribed_socket(&mut state, "c", &dialog);
        let history = format!("{:?}", replayed.next().now_or_never().flatten());
        assert!(
            history.contains("m1") && !history.contains("m0"),
            "{history}"
        );
        let agents_see = state.history(&dialog, None, 10).unwrap();
        let audiences: Vec<_> = agents_see
            .iter()
            .map(|e| e.message_audience.clone())
            .collect();
        assert_eq!(audiences, [Some(MessageAudience::AgentsAndManagers), None]);
    }

    #[test]
    fn a_conversation_keeps_its_last_thousand_events() {
        let mut state = hub_state();
        let id = state.request_conversation("c", None, None).unwrap();
        // Numbered from 0, as LivePerson numbers a dialog's events.
        for n in 0..limits::KEPT_EVENTS + 5 {
            assert_eq!(
                state.consumer_publish("c", &id, text(n), None).unwrap(),
                n as u64
            );
        }
        let kept = &state.conversations[&id].events;
        assert_eq!(kept.len(), limits::KEPT_EVENTS);
        let page = state.history(&id, None, 2).unwrap();
        assert_eq!(page[0].sequence, Some(5), "the five oldest left: {page:?}");
        // From the sequence asked for on, that one included.
        let page = state.history(&id, Some(1003), 100).unwrap();
        assert_eq!(page.len(), 2);
        assert_eq!(page[0].sequence, Some(1003));
    }
}
