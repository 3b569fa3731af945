//! The HTTP layer: the route table and handlers, key extraction and the failed-auth throttle,
//! the one error → problem+json mapping, the middleware (request id, metrics, log line) and
//! the OpenAPI document. Errors of the layers below become HTTP answers here and nowhere else.

pub mod auth;
pub mod headers;
pub mod key_cache;
pub mod middleware;
pub mod openapi;
pub mod problem;
pub mod routes;
pub mod state;
pub mod throttle;

pub use problem::ApiError;
pub use state::{AppState, Limits};
