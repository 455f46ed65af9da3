//! End-to-end tests: the real `pylon` binary, real backends on loopback, driven over HTTP.

mod harness;

mod access_log;
mod admin;
mod apps;
mod backend_framing;
mod backend_tls;
mod backends;
mod cli;
mod cli_usability;
mod connections;
mod console;
mod debug;
mod deployments;
mod environments;
mod functions;
mod http1;
mod lifecycle;
mod metrics;
mod paths;
mod policies;
mod readme;
mod real_clients;
mod routing;
mod stage_paths;
mod throttling;
mod tls;
mod traces;
