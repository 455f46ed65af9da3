//! The admin API end to end through its axum router (no sockets), on a temporary SQLite store.

mod common;

mod apps;
mod auth;
mod authorizations;
mod backends;
mod change_feed;
mod groups;
mod policies;
mod publish;
mod refusals;
mod resources;
