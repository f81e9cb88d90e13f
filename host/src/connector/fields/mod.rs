//! The behaviour of each custom configuration field, one file per field,
//! named after it, with its tests beside it. (Parsing and defaults live in
//! `config::custom`; tileDisplay and accessibility are carried out by the
//! shipped plugins of the same names.)

pub mod default_greeting_message;
pub mod message_delay;
pub mod ring_accept_wait;
