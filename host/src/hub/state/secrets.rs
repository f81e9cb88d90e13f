//! Debug for the agent-side state that holds a bearer token: it prints
//! as `<hidden>`, so no log line or panic message carries one.

use std::fmt;

use super::{Agent, Session};

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("bearer", &"<hidden>")
            .field("login", &self.login)
            .field("user_id", &self.user_id)
            .field("pid", &self.pid)
            .finish()
    }
}

impl fmt::Debug for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Agent")
            .field("bearer", &"<hidden>")
            .field("login", &self.login)
            .field("user_id", &self.user_id)
            .field("pid", &self.pid)
            .field("availability", &self.availability)
            .field("skills", &self.skills)
            .field("max_conversations", &self.max_conversations)
            .finish_non_exhaustive()
    }
}
