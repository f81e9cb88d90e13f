//! A conversation's time to response (`TTRField`): how urgent it is for
//! the agents who get it next. The conversation's assigned agent sets it
//! (a bot before it transfers, for one); both sides then see it as the
//! conversation's `ttr`.

use lp::fields::Ttr;

use super::{HubState, Refusal, refuse};

impl HubState {
    /// Sets `conv_id`'s time to response for agent `user_id`.
    pub(super) fn set_ttr(
        &mut self,
        user_id: &str,
        conv_id: &str,
        ttr: &Ttr,
    ) -> Result<(), Refusal> {
        let Some(conv) = self.conversations.get_mut(conv_id) else {
            return refuse(404, format!("no conversation {conv_id}"));
        };
        if !conv.open {
            return refuse(400, format!("conversation {conv_id} is closed"));
        }
        if conv.assigned.as_deref() != Some(user_id) {
            return refuse(
                400,
                format!("{user_id} is not the assigned agent of {conv_id}"),
            );
        }
        let ttr = ttr
            .checked()
            .map_err(|e| Refusal::new(400, e.to_string()))?;
        conv.ttr = Some(Box::new(ttr));
        self.notify_agents(conv_id, None);
        self.notify_consumer(conv_id);
        Ok(())
    }
}
