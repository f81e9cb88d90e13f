//! Routing: which agent is rung for a waiting conversation (skill, free
//! slots, least loaded first, then the one assigned longest ago), ring
//! answers and expiry, and what happens to an agent's conversations when
//! it is lost or comes back.

use std::collections::{HashMap, HashSet};

use lp::routing::RingState;

use super::{Availability, HubState, Refusal, Ring, refuse};

impl HubState {
    /// Every agent connection's load (open conversations assigned to its
    /// user or ringing it), from the index.
    pub(super) fn loads(&self) -> HashMap<u64, usize> {
        self.agents
            .iter()
            .map(|(conn, agent)| (*conn, self.index.load(&agent.user_id, *conn)))
            .collect()
    }

    /// [`HubState::loads`] by a walk over every conversation: what debug
    /// builds check the index against.
    #[cfg(debug_assertions)]
    fn loads_by_walk(&self) -> HashMap<u64, usize> {
        let mut loads: HashMap<u64, usize> = self.agents.keys().map(|c| (*c, 0)).collect();
        for conv in self.conversations.values().filter(|c| c.open) {
            for (conn, agent) in &self.agents {
                let assigned = conv.assigned.as_deref() == Some(agent.user_id.as_str());
                let rung = conv.ring.as_ref().is_some_and(|r| r.agent_conn == *conn);
                if assigned || rung {
                    *loads.get_mut(conn).expect("every agent counted") += 1;
                }
            }
        }
        loads
    }

    /// Offers every waiting conversation to a free agent. Returns the rings
    /// made, so the caller can start their expiry timers.
    pub fn route_waiting(&mut self) -> Vec<(String, String)> {
        let waiting = self.index.waiting(&self.conversations);
        #[cfg(debug_assertions)]
        {
            let mut walked: Vec<(u64, &String)> = self
                .conversations
                .values()
                .filter(|c| c.waits())
                .map(|c| (c.start_ts, &c.id))
                .collect();
            walked.sort();
            let walked: Vec<&String> = walked.into_iter().map(|(_, id)| id).collect();
            assert_eq!(
                waiting.iter().collect::<Vec<_>>(),
                walked,
                "the waiting index"
            );
            assert_eq!(self.loads(), self.loads_by_walk(), "the load index");
        }
        if waiting.is_empty() {
            return Vec::new();
        }
        let mut loads = self.loads();
        waiting
            .into_iter()
            .filter_map(|id| self.route(&id, &mut loads))
            .collect()
    }

    /// Rings the least loaded agent with the conversation's skill and a free slot.
    pub(super) fn route(
        &mut self,
        conv_id: &str,
        loads: &mut HashMap<u64, usize>,
    ) -> Option<(String, String)> {
        let conv = self.conversations.get(conv_id)?;
        let candidates = self.agents.iter().map(|(conn, a)| Candidate {
            conn: *conn,
            routable: a.routing_subscription.is_some() && a.availability == Availability::Online,
            skills: &a.skills,
            load: loads.get(conn).copied().unwrap_or(0),
            max: a.max_conversations as usize,
            last_assigned: a.last_assigned,
        });
        let conn = choose(&conv.skill_id, &conv.rejected_by, candidates)?;
        *loads.entry(conn).or_default() += 1;
        let serial = self.next_id();
        // The conversation's id leads (a UUID, no `_` in it): an answer
        // finds its conversation from the ring id alone (`update_ring`).
        let ring_id = format!("{conv_id}_{}_{serial}", self.agents[&conn].login);
        self.assignment_clock += 1;
        let agent = self.agents.get_mut(&conn).expect("chosen above");
        agent.last_assigned = self.assignment_clock;
        let conv = self
            .conversations
            .get_mut(conv_id)
            .expect("looked up above");
        conv.ring = Some(Ring {
            id: ring_id.clone(),
            agent_conn: conn,
            expiry: None,
        });
        self.index.rung(conn);
        self.send_ring(conn, conv_id, &ring_id, RingState::Waiting);
        Some((conv_id.to_owned(), ring_id))
    }

    /// An agent answered a ring.
    pub fn update_ring(
        &mut self,
        conn: u64,
        ring_id: &str,
        state: &RingState,
    ) -> Result<(), Refusal> {
        let conv_id = ring_id.split('_').next().unwrap_or_default().to_owned();
        let Some(conv) = self
            .conversations
            .get_mut(&conv_id)
            .filter(|c| c.ring.as_ref().is_some_and(|r| r.id == ring_id))
        else {
            return refuse(404, format!("no waiting ring {ring_id}"));
        };
        if conv.ring.as_ref().map(|r| r.agent_conn) != Some(conn) {
            return refuse(403, format!("ring {ring_id} belongs to another agent"));
        }
        match state {
            RingState::Accepted => {
                conv.ring = None;
                let agent = &self.agents[&conn];
                conv.assigned = Some(agent.user_id.clone());
                conv.assigned_pid = Some(agent.pid.clone());
                self.index.ring_ended(conn);
                self.index.assigned(&agent.user_id);
                self.send_ring(conn, &conv_id, ring_id, RingState::Accepted);
                self.notify_agents(&conv_id, None);
                self.notify_consumer(&conv_id);
                Ok(())
            }
            RingState::Rejected => {
                conv.ring = None;
                conv.rejected_by.insert(conn);
                self.index.ring_ended(conn);
                self.index.may_wait(conv);
                self.send_ring(conn, &conv_id, ring_id, RingState::Rejected);
                Ok(())
            }
            other => refuse(
                400,
                format!("ringState must be ACCEPTED or REJECTED, not {other}"),
            ),
        }
    }

    /// A ring's time ran out: it expires and the conversation is offered again.
    pub fn expire_ring(&mut self, conv_id: &str, ring_id: &str) {
        let Some(conv) = self.conversations.get_mut(conv_id) else {
            return;
        };
        let Some(mut ring) = conv.ring.take_if(|r| r.id == ring_id) else {
            return;
        };
        // The timer calling this is the expiry: nothing to stop.
        ring.expiry = None;
        self.index.ring_ended(ring.agent_conn);
        self.index.may_wait(conv);
        self.send_ring(ring.agent_conn, conv_id, ring_id, RingState::Expired);
    }

    /// An agent connection went away: its rings are withdrawn. An agent
    /// that went OFFLINE first (a stop) releases its conversations at once;
    /// one that dropped keeps them for the grace period, in case it comes
    /// back: returns the user to release when that period ends.
    pub fn agent_gone(&mut self, conn: u64) -> Option<String> {
        let agent = self.agents.remove(&conn)?;
        for conv in self.conversations.values_mut() {
            if conv.ring.as_ref().is_some_and(|r| r.agent_conn == conn) {
                conv.ring = None;
                self.index.may_wait(conv);
            }
        }
        self.index.agent_gone(conn);
        if self.agents.values().any(|a| a.user_id == agent.user_id) {
            return None;
        }
        if agent.availability == Availability::Offline {
            self.release_user(&agent.user_id);
            return None;
        }
        Some(agent.user_id)
    }

    /// Routes the open conversations of an agent user that is not
    /// connected to others, history intact.
    pub fn release_user(&mut self, user_id: &str) {
        if self.agents.values().any(|a| a.user_id == user_id) {
            return;
        }
        let mut released = Vec::new();
        for conv in self.conversations.values_mut() {
            if conv.open && conv.assigned.as_deref() == Some(user_id) {
                conv.assigned = None;
                conv.assigned_pid = None;
                conv.rejected_by.clear();
                self.index.unassigned(user_id);
                self.index.may_wait(conv);
                released.push(conv.id.clone());
            }
        }
        for conv_id in released {
            self.notify_agents(&conv_id, Some(user_id));
            self.notify_consumer(&conv_id);
        }
    }

    /// A user logged in again: its conversations carry the new session's pid.
    pub fn agent_back(&mut self, user_id: &str, pid: &str) {
        for conv in self.conversations.values_mut() {
            if conv.assigned.as_deref() == Some(user_id) {
                conv.assigned_pid = Some(pid.to_owned());
            }
        }
    }
}

/// An agent connection as routing sees it.
#[derive(Clone, Copy, Debug)]
pub struct Candidate<'a> {
    /// Its connection.
    pub conn: u64,
    /// Subscribed to routing tasks and ONLINE: offered new conversations.
    pub routable: bool,
    /// The skills routed to its user; none: every skill.
    pub skills: &'a [String],
    /// Conversations assigned to its user or ringing it now.
    pub load: usize,
    /// Its user's most conversations at once.
    pub max: usize,
    /// When it was last rung (a counter: larger is later).
    pub last_assigned: u64,
}

/// The agent to ring for a conversation of `skill` that the connections
/// in `rejected` declined: among the routable ones with the skill and a
/// free slot, the least loaded, then the one rung longest ago, then the
/// oldest connection. `None`: nobody can take it now; it waits.
pub fn choose<'a>(
    skill: &str,
    rejected: &HashSet<u64>,
    candidates: impl IntoIterator<Item = Candidate<'a>>,
) -> Option<u64> {
    candidates
        .into_iter()
        .filter(|c| {
            c.routable
                && (c.skills.is_empty() || c.skills.iter().any(|s| s == skill))
                && !rejected.contains(&c.conn)
                && c.load < c.max
        })
        .min_by_key(|c| (c.load, c.last_assigned, c.conn))
        .map(|c| c.conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(conn: u64, skills: &[String], load: usize, last_assigned: u64) -> Candidate<'_> {
        Candidate {
            conn,
            routable: true,
            skills,
            load,
            max: 2,
            last_assigned,
        }
    }

    #[test]
    fn the_least_loaded_agent_is_rung_then_the_one_rung_longest_ago() {
        let none = HashSet::new();
        let skills = ["1".to_owned()];
        let chosen = choose(
            "1",
            &none,
            [agent(1, &skills, 1, 0), agent(2, &skills, 0, 9)],
        );
        assert_eq!(chosen, Some(2), "least loaded first");
        let chosen = choose(
            "1",
            &none,
            [agent(1, &skills, 0, 5), agent(2, &skills, 0, 3)],
        );
        assert_eq!(chosen, Some(2), "then the one rung longest ago");
        let chosen = choose(
            "1",
            &none,
            [agent(4, &skills, 0, 0), agent(3, &skills, 0, 0)],
        );
        assert_eq!(chosen, Some(3), "then the oldest connection");
    }

    #[test]
    fn only_routable_agents_with_the_skill_a_free_slot_and_no_refusal_are_rung() {
        let none = HashSet::new();
        let (one, two) = (["1".to_owned()], ["2".to_owned()]);
        assert_eq!(
            choose("1", &none, [agent(1, &two, 0, 0)]),
            None,
            "other skill"
        );
        assert_eq!(
            choose("1", &none, [agent(1, &[], 0, 0)]),
            Some(1),
            "no skills: all"
        );
        assert_eq!(choose("1", &none, [agent(1, &one, 2, 0)]), None, "full");
        let away = Candidate {
            routable: false,
            ..agent(1, &one, 0, 0)
        };
        assert_eq!(
            choose("1", &none, [away]),
            None,
            "not ONLINE or not subscribed"
        );
        let declined = HashSet::from([1]);
        let chosen = choose("1", &declined, [agent(1, &one, 0, 0), agent(2, &one, 1, 0)]);
        assert_eq!(chosen, Some(2), "one that declined is not rung again");
    }
}
