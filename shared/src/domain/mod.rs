//! Pure rules: what an order, a parcel's journey, a return and a message are, and how they may
//! change. No I/O, no AWS types, no HTTP: everything here is decided from its arguments, and
//! tested beside it.

pub mod delivery;
pub mod ids;
pub mod link;
pub mod link_keys;
pub mod mail_feedback;
pub mod mailbox;
pub mod messages;
pub mod money;
pub mod names;
pub mod notification;
pub mod nps;
pub mod order;
pub mod privacy;
pub mod quiet_hours;
pub mod returns;
pub mod settings;
pub mod situation;
pub mod text;
pub mod tracking;
pub mod watch;
