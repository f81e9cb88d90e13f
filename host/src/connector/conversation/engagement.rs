//! The consumer's engagement attributes, for a bot that takes them
//! (`engagement_attributes` in its file): read from the platform when the
//! conversation arrives (beside its history) and again after a step-up,
//! and sent with every turn. Where they cannot be read, the bot gets an
//! empty `lpSdes`, as for a consumer who set none; the failure is logged,
//! and they are not read again before the next step-up. Turns said before
//! a step-up keep the attributes of then.

use std::sync::Arc;

use lp::users::UserProfile;

use super::Conversation;

impl Conversation {
    /// The consumer's engagement attributes, if the bot takes them and the
    /// platform gives them.
    pub(super) async fn read_engagement(&self) -> Option<Arc<UserProfile>> {
        if !self.bot.engagement_attributes() {
            return None;
        }
        match self.platform.user_profile(&self.view.consumer_id).await {
            Ok(profile) => Some(Arc::new(profile)),
            Err(error) => {
                tracing::warn!(conversation = %self.view.id, %error, "the consumer's engagement attributes could not be read: the bot gets none");
                None
            }
        }
    }
}
