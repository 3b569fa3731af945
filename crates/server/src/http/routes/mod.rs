//! The route table ([`ROUTES`]): every route once, with its methods, whether it needs a key and
//! whether it is metered. The router ([`configure`]), the metrics and log labels
//! ([`route_label`]) and the OpenAPI document (`http::openapi`) all read it.

pub mod check_batch;
pub mod check_prime;
pub mod check_stream;
pub mod docs;
pub mod health;
pub mod metrics;
pub mod time;
pub mod usage;
pub mod verify_certificate;

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, Resource, web};
use utoipa::openapi::path::PathsBuilder;

use super::problem::ApiError;
use crate::domain::keys::KEY_PREFIX;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (health, metrics, documentation).
    Public,
    /// Callers with a valid key; nothing is counted.
    Key,
    /// Callers with a valid key; each `200` uses quota.
    Metered,
}

/// One route.
#[derive(Debug)]
pub struct RouteSpec {
    /// The actix-web path pattern.
    pub path: &'static str,
    /// The label in metrics and logs.
    pub label: &'static str,
    /// The methods served (any other gets a JSON `405`).
    pub methods: &'static [Method],
    /// Who may call it.
    pub access: Access,
    /// Attach the handler for one method.
    handler: fn(Resource, Method) -> Resource,
    /// Add the route's OpenAPI operations.
    pub openapi: fn(PathsBuilder) -> PathsBuilder,
}

impl RouteSpec {
    /// Whether a request path belongs to this route.
    pub fn matches(&self, path: &str) -> bool {
        match self.path.strip_suffix("{file:.*}") {
            Some(prefix) => path.starts_with(prefix),
            None => path == self.path,
        }
    }

    /// The route as an actix-web resource, with a JSON `405` for other methods.
    fn resource(&self) -> Resource {
        let allow = self
            .methods
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        let resource = self.methods.iter().fold(web::resource(self.path), |r, m| {
            (self.handler)(r, m.clone())
        });
        resource.default_service(web::to(move || {
            let allow = allow.clone();
            async move { Err::<HttpResponse, _>(ApiError::MethodNotAllowed(allow)) }
        }))
    }
}

/// The label of the metrics route (served on its own address with `--metrics-bind`).
pub const METRICS_LABEL: &str = "/metrics";

/// Every route the server serves.
pub const ROUTES: &[RouteSpec] = &[
    RouteSpec {
        path: "/check-prime",
        label: "/check-prime",
        methods: &[Method::POST],
        access: Access::Metered,
        handler: |r, m| r.route(web::method(m).to(check_prime::check_prime)),
        openapi: |p| p.path_from::<check_prime::__path_check_prime>(),
    },
    RouteSpec {
        path: "/check-prime/batch",
        label: "/check-prime/batch",
        methods: &[Method::POST],
        access: Access::Metered,
        handler: |r, m| r.route(web::method(m).to(check_batch::check_batch)),
        openapi: |p| p.path_from::<check_batch::__path_check_batch>(),
    },
    RouteSpec {
        path: "/verify-certificate",
        label: "/verify-certificate",
        methods: &[Method::POST],
        access: Access::Metered,
        handler: |r, m| r.route(web::method(m).to(verify_certificate::verify_certificate)),
        openapi: |p| p.path_from::<verify_certificate::__path_verify_certificate>(),
    },
    RouteSpec {
        path: "/get-current-time",
        label: "/get-current-time",
        methods: &[Method::GET, Method::POST],
        access: Access::Key,
        handler: |r, m| r.route(web::method(m).to(time::current_time)),
        openapi: |p| p.path_from::<time::__path_current_time>(),
    },
    RouteSpec {
        path: "/usage",
        label: "/usage",
        methods: &[Method::GET],
        access: Access::Key,
        handler: |r, m| r.route(web::method(m).to(usage::usage)),
        openapi: |p| p.path_from::<usage::__path_usage>(),
    },
    RouteSpec {
        path: "/healthz",
        label: "/healthz",
        methods: &[Method::GET],
        access: Access::Public,
        handler: |r, m| r.route(web::method(m).to(health::healthz)),
        openapi: |p| p.path_from::<health::__path_healthz>(),
    },
    RouteSpec {
        path: "/metrics",
        label: METRICS_LABEL,
        methods: &[Method::GET],
        access: Access::Public,
        handler: |r, m| r.route(web::method(m).to(metrics::metrics)),
        openapi: |p| p.path_from::<metrics::__path_metrics>(),
    },
    RouteSpec {
        path: "/openapi.json",
        label: "/openapi.json",
        methods: &[Method::GET],
        access: Access::Public,
        handler: |r, m| r.route(web::method(m).to(docs::openapi_json)),
        openapi: |p| p.path_from::<docs::__path_openapi_json>(),
    },
    RouteSpec {
        path: "/docs",
        label: "/docs",
        methods: &[Method::GET],
        access: Access::Public,
        handler: |r, m| r.route(web::method(m).to(docs::docs_redirect)),
        openapi: |p| p,
    },
    RouteSpec {
        path: "/docs/{file:.*}",
        label: "/docs",
        methods: &[Method::GET],
        access: Access::Public,
        handler: |r, m| r.route(web::method(m).to(docs::docs)),
        openapi: |p| p.path_from::<docs::__path_docs>(),
    },
];

/// The metrics and log label of a request path (`other` for unknown paths).
pub fn route_label(path: &str) -> &'static str {
    ROUTES
        .iter()
        .find(|r| r.matches(path))
        .map_or("other", |r| r.label)
}

/// Register every route of the table (all but `/metrics` when metrics have their own listener),
/// and a JSON `404` for everything else.
pub fn configure(cfg: &mut web::ServiceConfig, with_metrics: bool) {
    for route in ROUTES {
        if with_metrics || route.label != METRICS_LABEL {
            cfg.service(route.resource());
        }
    }
    cfg.default_service(web::to(not_found));
}

/// Register only `/metrics` (the `--metrics-bind` listener), and the JSON `404`.
pub fn configure_metrics_only(cfg: &mut web::ServiceConfig) {
    for route in ROUTES.iter().filter(|r| r.label == METRICS_LABEL) {
        cfg.service(route.resource());
    }
    cfg.default_service(web::to(not_found));
}

/// JSON `404` for every unknown route.
async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let path = if req.path().contains(KEY_PREFIX) {
        "(redacted)".to_owned()
    } else {
        req.path().chars().take(100).collect()
    };
    Err(ApiError::NotFound(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(route_label("/check-prime"), "/check-prime");
        assert_eq!(route_label("/docs"), "/docs");
        assert_eq!(route_label("/docs/"), "/docs");
        assert_eq!(route_label("/docs/swagger-ui.css"), "/docs");
        assert_eq!(route_label("/docsx"), "other");
        assert_eq!(route_label("/check-prime/"), "other");
        assert_eq!(route_label("/check-prime/batch"), "/check-prime/batch");
    }

    #[test]
    fn every_route_once() {
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert_ne!(a.path, b.path);
            }
        }
    }
}
