//! Indexes over the hub's conversations and consumer sockets, kept beside
//! them so that the set-up paths (a consumer asks for a conversation, each
//! routing round, a ring's answer, a subscription's snapshot, telling a
//! consumer its conversation changed) look up what they need instead of
//! walking every conversation or socket: with thousands open, those walks
//! made setting up each new conversation cost as much as all the earlier
//! ones together.
//!
//! The hub's methods tell the index of each change they make (a
//! conversation opened, assigned, rung, released, closed, forgotten; a
//! consumer socket added, signed in, removed). Debug builds check it
//! against the walks it replaces: the loads and the waiting list at every
//! routing round (`HubState::route_waiting`), a consumer's conversations
//! and sockets at every lookup (`HubState::conversations_of`,
//! `HubState::sockets_of`), so every test that uses them checks the index.

use std::collections::{BTreeSet, HashMap};

use super::{Consumer, Conversation, HubState};

#[derive(Debug, Default)]
pub(super) struct Index {
    /// Each consumer's conversations, open and closed, by id.
    by_consumer: HashMap<String, Vec<String>>,
    /// The consumer sockets signed in as each consumer.
    sockets_of_consumer: HashMap<String, Vec<u64>>,
    /// How many open conversations each agent user is assigned.
    assigned_open: HashMap<String, usize>,
    /// How many rings wait for each agent connection's answer.
    ringing: HashMap<u64, usize>,
    /// The conversations that may be waiting for an agent, oldest first: a
    /// superset of those open, unassigned and not rung, which each routing
    /// round trims ([`Index::waiting`]).
    unrouted: BTreeSet<(u64, String)>,
}

impl HubState {
    /// A consumer socket connected (signed in already when its header
    /// carried a token).
    pub fn add_consumer(&mut self, conn: u64, consumer: Consumer) {
        debug_assert!(
            !self.consumers.contains_key(&conn),
            "socket {conn} added twice"
        );
        if let Some(id) = &consumer.consumer_id {
            self.index.socket_signed_in(id, conn);
        }
        self.consumers.insert(conn, consumer);
    }

    /// The consumer socket `conn` signed in as `id`.
    pub fn sign_in_consumer(&mut self, conn: u64, id: String) {
        let Some(consumer) = self.consumers.get_mut(&conn) else {
            return;
        };
        if let Some(before) = consumer.consumer_id.take() {
            self.index.socket_signed_out(&before, conn);
        }
        self.index.socket_signed_in(&id, conn);
        consumer.consumer_id = Some(id);
    }

    /// The sockets signed in as the consumer.
    pub(super) fn sockets_of(&self, consumer_id: &str) -> &[u64] {
        let sockets = self.index.sockets_of_consumer.get(consumer_id);
        #[cfg(debug_assertions)]
        {
            let mut walked: Vec<u64> = (self.consumers.iter())
                .filter(|(_, c)| c.consumer_id.as_deref() == Some(consumer_id))
                .map(|(conn, _)| *conn)
                .collect();
            let mut indexed = sockets.cloned().unwrap_or_default();
            walked.sort();
            indexed.sort();
            assert_eq!(indexed, walked, "the consumer sockets' index");
        }
        sockets.map_or(&[], Vec::as_slice)
    }

    /// The ids of the consumer's conversations, open and closed.
    pub(super) fn conversations_of(&self, consumer_id: &str) -> &[String] {
        let ids = self.index.of_consumer(consumer_id);
        #[cfg(debug_assertions)]
        {
            let mut walked: Vec<&String> = (self.conversations.values())
                .filter(|c| c.consumer_id == consumer_id)
                .map(|c| &c.id)
                .collect();
            let mut indexed: Vec<&String> = ids.iter().collect();
            walked.sort();
            indexed.sort();
            assert_eq!(indexed, walked, "the consumer conversations' index");
        }
        ids
    }

    /// True if agent `user_id` is assigned to the consumer's open conversation.
    pub fn serves(&self, user_id: &str, consumer_id: &str) -> bool {
        self.open_of(consumer_id)
            .is_some_and(|c| c.assigned.as_deref() == Some(user_id))
    }

    /// The consumer's open conversation, if it has one.
    pub(super) fn open_of(&self, consumer_id: &str) -> Option<&Conversation> {
        self.conversations_of(consumer_id)
            .iter()
            .filter_map(|id| self.conversations.get(id))
            .find(|c| c.open)
            .map(|c| &**c)
    }
}

impl Conversation {
    /// Open, unassigned and not rung: routing offers it to an agent.
    pub(super) fn waits(&self) -> bool {
        self.open && self.assigned.is_none() && self.ring.is_none()
    }
}

impl Index {
    /// A conversation was recorded.
    pub(super) fn opened(&mut self, conv: &Conversation) {
        self.by_consumer
            .entry(conv.consumer_id.clone())
            .or_default()
            .push(conv.id.clone());
        match &conv.assigned {
            Some(user) => self.assigned(user),
            None => self.may_wait(conv),
        }
    }

    /// A closed conversation was forgotten.
    pub(super) fn forgotten(&mut self, conv: &Conversation) {
        self.leave_consumer(&conv.consumer_id, &conv.id);
    }

    /// The conversation now belongs to another consumer (step-up).
    pub(super) fn consumer_changed(&mut self, conv_id: &str, from: &str, to: &str) {
        self.leave_consumer(from, conv_id);
        self.by_consumer
            .entry(to.to_owned())
            .or_default()
            .push(conv_id.to_owned());
    }

    fn leave_consumer(&mut self, consumer_id: &str, conv_id: &str) {
        if let Some(ids) = self.by_consumer.get_mut(consumer_id) {
            ids.retain(|id| id != conv_id);
            if ids.is_empty() {
                self.by_consumer.remove(consumer_id);
            }
        }
    }

    /// The ids of a consumer's conversations, open and closed.
    pub(super) fn of_consumer(&self, consumer_id: &str) -> &[String] {
        self.by_consumer
            .get(consumer_id)
            .map_or(&[], |ids| ids.as_slice())
    }

    /// A consumer socket signed in as `consumer_id`.
    pub(super) fn socket_signed_in(&mut self, consumer_id: &str, conn: u64) {
        let sockets = self.sockets_of_consumer.entry(consumer_id.to_owned());
        sockets.or_default().push(conn);
    }

    /// A consumer socket signed in as `consumer_id` left, or signed in
    /// as another consumer.
    pub(super) fn socket_signed_out(&mut self, consumer_id: &str, conn: u64) {
        if let Some(sockets) = self.sockets_of_consumer.get_mut(consumer_id) {
            sockets.retain(|c| *c != conn);
            if sockets.is_empty() {
                self.sockets_of_consumer.remove(consumer_id);
            }
        }
    }

    /// An open conversation was assigned to `user`.
    pub(super) fn assigned(&mut self, user: &str) {
        *self.assigned_open.entry(user.to_owned()).or_default() += 1;
    }

    /// An open conversation assigned to `user` no longer is (released,
    /// transferred or closed).
    pub(super) fn unassigned(&mut self, user: &str) {
        if let Some(count) = self.assigned_open.get_mut(user) {
            *count -= 1;
            if *count == 0 {
                self.assigned_open.remove(user);
            }
        }
    }

    /// A ring went to agent connection `conn`.
    pub(super) fn rung(&mut self, conn: u64) {
        *self.ringing.entry(conn).or_default() += 1;
    }

    /// A ring to `conn` ended (answered, expired, withdrawn, closed).
    pub(super) fn ring_ended(&mut self, conn: u64) {
        if let Some(count) = self.ringing.get_mut(&conn) {
            *count -= 1;
            if *count == 0 {
                self.ringing.remove(&conn);
            }
        }
    }

    /// The agent connection is gone: its rings were withdrawn.
    pub(super) fn agent_gone(&mut self, conn: u64) {
        self.ringing.remove(&conn);
    }

    /// The conversation may wait for an agent again (its ring ended, its
    /// agent left it): the next routing round looks at it.
    pub(super) fn may_wait(&mut self, conv: &Conversation) {
        self.unrouted.insert((conv.start_ts, conv.id.clone()));
    }

    /// The load of an agent connection of `user`: the open conversations
    /// assigned to the user and the rings waiting for this connection.
    pub(super) fn load(&self, user: &str, conn: u64) -> usize {
        self.assigned_open.get(user).copied().unwrap_or(0)
            + self.ringing.get(&conn).copied().unwrap_or(0)
    }

    /// The conversations waiting for an agent, oldest first; those that no
    /// longer wait leave the list.
    pub(super) fn waiting(
        &mut self,
        conversations: &HashMap<String, Box<Conversation>>,
    ) -> Vec<String> {
        self.unrouted
            .retain(|(_, id)| conversations.get(id).is_some_and(|c| c.waits()));
        self.unrouted.iter().map(|(_, id)| id.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use lp::conversations::CloseReason;
    use lp::routing::RingState;

    use super::super::tests::hub_state;
    use super::super::{Agent, Availability, outbox};
    use super::*;

    fn agent(state: &mut HubState, conn: u64, login: &str) {
        state.agents.insert(
            conn,
            Agent {
                outbox: outbox().0,
                bearer: String::new(),
                login: login.into(),
                user_id: format!("123.{login}"),
                pid: format!("pid-{login}"),
                availability: Availability::Online,
                routing_subscription: Some("routing".into()),
                conversation_subscription: None,
                agent_state_subscription: None,
                skills: Vec::new(),
                max_conversations: 2,
                last_assigned: 0,
            },
        );
    }

    fn ringing(state: &HubState, conv_id: &str) -> (u64, String) {
        let ring = state.conversations[conv_id].ring.as_ref().expect("rung");
        (ring.agent_conn, ring.id.clone())
    }

    /// Each round (`route_waiting`) also checks the index against a walk
    /// over every conversation in debug builds; the loads are asserted here.
    #[test]
    fn loads_and_the_waiting_list_follow_rings_answers_transfers_closes_and_lost_agents() {
        let mut state = hub_state();
        agent(&mut state, 1, "a");
        agent(&mut state, 2, "b");
        let ids: Vec<String> = (0..5)
            .map(|n| state.request_conversation(&format!("c{n}"), None, None))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(state.open_of("c3").map(|c| c.id.as_str()), Some(&*ids[3]));
        assert_eq!(
            state
                .request_conversation("c3", None, None)
                .unwrap_err()
                .code,
            400
        );

        // Two free slots each: four rings, the fifth waits.
        assert_eq!(state.route_waiting().len(), 4);
        assert_eq!(state.loads(), [(1, 2), (2, 2)].into());
        let waiting = |state: &HubState| state.conversations.values().filter(|c| c.waits()).count();
        assert_eq!(waiting(&state), 1);

        let rung: Vec<&String> = ids
            .iter()
            .filter(|id| !state.conversations[*id].waits())
            .collect();
        let (conn, ring) = ringing(&state, rung[0]);
        let unknown = state.update_ring(conn, "no-such-ring", &RingState::Accepted);
        assert_eq!(unknown.unwrap_err().code, 404);
        state
            .update_ring(conn, &ring, &RingState::Accepted)
            .unwrap();
        let (rejecter, ring) = ringing(&state, rung[1]);
        state
            .update_ring(rejecter, &ring, &RingState::Rejected)
            .unwrap();
        let (_, ring) = ringing(&state, rung[2]);
        state.expire_ring(rung[2], &ring);
        assert_eq!(waiting(&state), 3);
        // Five open conversations fill both agents' two slots again.
        state.route_waiting();
        assert_eq!(state.loads(), [(1, 2), (2, 2)].into());

        // A close frees a slot, which the round fills.
        state.close(rung[0], CloseReason::Consumer);
        assert_eq!(state.loads().values().sum::<usize>(), 3);
        state.route_waiting();
        assert_eq!(state.loads(), [(1, 2), (2, 2)].into());

        // An agent lost: its rings end and its conversations wait for the
        // other agent, which has no free slot; released, nothing changes.
        let user = state.agent_gone(2).expect("dropped, not stopped");
        state.release_user(&user);
        state.route_waiting();
        assert_eq!(state.loads(), [(1, 2)].into());
        assert_eq!(waiting(&state), 2);
    }
}
