//! A conversation's time to response (`TTRField`): how urgent it is for
//! the agents who get it next. The conversation's assigned agent sets it
//! (a bot before it transfers, for one); both sides then see it as the
//! conversation's `ttr`.

use lp::fields::{Ttr, TtrType};

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
        match (&ttr.ttr_type, ttr.value) {
            (TtrType::Custom, None | Some(0)) => {
                return refuse(400, "a CUSTOM ttrType needs a value: seconds, above 0");
            }
            (TtrType::Other(other), _) => {
                return refuse(
                    400,
                    format!("ttrType {other}: expected URGENT, NORMAL, PRIORITIZED or CUSTOM"),
                );
            }
            _ => {}
        }
        // Only a custom time keeps its value: the others' times are the
        // account's, whatever a request says.
        let value = ttr.value.filter(|_| ttr.ttr_type == TtrType::Custom);
        conv.ttr = Some(Box::new(Ttr {
            ttr_type: ttr.ttr_type.clone(),
            value,
        }));
        self.notify_agents(conv_id, None);
        self.notify_consumer(conv_id);
        Ok(())
    }
}
