//! The behaviour of each custom configuration field, one file per field,
//! named after it, with its tests beside it. Parsing and defaults live in
//! `config::custom`; `tileDisplay` and the `accessibility` option are
//! carried out by the shipped plugins of the same names
//! (`plugins/tile-display`, `plugins/accessibility`).

pub mod default_greeting_message;
pub mod default_stepup_message;
pub mod fallback_escalation_time;
pub mod max_escalation_retries;
pub mod message_delay;
pub mod message_resend_max_retries;
pub mod ring_accept_wait;
pub mod skip_agent_message;
