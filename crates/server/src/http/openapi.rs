//! The OpenAPI 3.1 document, built from the route table (`http::routes::ROUTES`): each route's
//! handler annotation (`#[utoipa::path]`) and response types (`ToSchema`), with the security
//! and quota headers the table says the route has. Served at `GET /openapi.json`.
//!
//! Headers that many responses share are added here in one place ([`SharedHeaders`]):
//! `X-Request-Id` on every response, the quota headers on metered answers, `Retry-After` on
//! `429`/`503`, `WWW-Authenticate` on `401`.

use std::borrow::Cow;
use std::sync::OnceLock;

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, PathsBuilder};
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{RefOr, Response};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

use super::routes::{Access, ROUTES};

/// An integer of any length: a JSON integer literal, or a string of ASCII decimal digits with an
/// optional leading `-`.
#[derive(Debug)]
pub struct IntegerOfAnyLength;

impl PartialSchema for IntegerOfAnyLength {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .description(Some(
                "An integer of any length: a JSON integer literal (never rounded) or a string of \
                 decimal digits with an optional leading '-'.",
            ))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .description(Some("JSON integer literal of any length")),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some("^-?[0-9]+$"))
                    .description(Some("decimal digits")),
            )
            .examples([
                serde_json::json!(17),
                serde_json::json!("172983479832623897492387592384682937659382477"),
            ])
            .into()
    }
}

impl ToSchema for IntegerOfAnyLength {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("IntegerOfAnyLength")
    }
}

/// A verdict's wire name: one of `primality::Verdict::NAMES`, the same names the response and
/// the metrics use.
#[derive(Debug)]
pub struct VerdictName;

impl PartialSchema for VerdictName {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(primality::Verdict::NAMES))
            .description(Some(
                "`prime` (proven, n < 2^64), `probable_prime` (passed Baillie-PSW), `composite`, \
                 or `neither` (n < 2)",
            ))
            .examples([serde_json::json!("composite")])
            .into()
    }
}

impl ToSchema for VerdictName {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("VerdictName")
    }
}

/// Body of `POST /check-prime`. Other members are ignored.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents the contract; the handler parses the raw body itself
pub struct CheckRequest {
    /// The integer to check; floats, exponents, booleans, null and arrays are refused (`400`).
    #[schema(value_type = IntegerOfAnyLength)]
    number: (),
    /// Also find the prime factors (within `--factor-timeout-ms`); adds `factors`, `complete`
    /// and, when the time ran out, `cofactor` to the answer. Default `false`.
    #[schema(default = false)]
    factorize: Option<bool>,
    /// Prove a prime of at least 2^64 (up to `--max-proof-bits`, within `--proof-timeout-ms`):
    /// adds `certificate` (verdict `prime`), or `proof: "timed_out"` with the Baillie-PSW
    /// verdict. Default `false`.
    #[schema(default = false)]
    proof: Option<bool>,
}

/// JSON body of `POST /check-prime/batch`. Other members are ignored.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents the contract; the handler parses the raw body itself
pub struct BatchRequest {
    /// The integers to check, each as `number` of `/check-prime` accepts it; at most
    /// `--max-batch` (default 1000). An invalid item is answered in its place and costs nothing.
    #[schema(value_type = Vec<Value>, example = json!([17, "18", 1.5]))]
    numbers: (),
    /// Also find the prime factors of every number (each within `--factor-timeout-ms`).
    #[schema(default = false)]
    factorize: Option<bool>,
    /// Prove every prime of at least 2^64 (each within `--proof-timeout-ms`).
    #[schema(default = false)]
    proof: Option<bool>,
}

/// `GET /healthz` answer.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` in a `200`.
    #[schema(example = "ok")]
    pub status: &'static str,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "prime-api",
        description = "Is this integer prime, and what time is it on the server? Callers hold an \
                       API key metered by a quota that resets on a cron schedule (shared by the keys \
                       of a quota group), optionally with a burst limit (GCRA) on every \
                       authenticated route; both policies are named in the RateLimit-Policy and \
                       RateLimit headers, and a 429 says which one was exceeded in \
                       `violated-policies`. Errors are RFC 9457 problem details that also carry \
                       the tutorial's `error` member.",
        license(name = "MIT OR Apache-2.0")
    ),
    components(schemas(
        CheckRequest,
        BatchRequest,
        super::routes::check_batch::ItemError<'static>,
        super::routes::check_batch::BatchResult<'static>,
        super::routes::check_batch::BatchResponse<'static>,
        super::routes::verify_certificate::VerifyResponse,
        Health,
        super::problem::Problem<'static>,
        super::routes::check_prime::CheckResponse<'static>,
        super::routes::time::TimeResponse,
        super::routes::usage::UsageResponse<'static>,
        super::routes::usage::HistoryDay,
    )),
    tags(
        (name = "prime", description = "The API: primality checks, server time, quota state"),
        (name = "operations", description = "Health, metrics and this document (no authentication)")
    )
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("`Authorization: Bearer <key>`"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "authorization",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "`Authorization: <key>`, the raw key (the tutorial's form)",
            ))),
        );
        components.add_security_scheme(
            "x_api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "`X-API-Key: <key>`",
            ))),
        );
    }
}

struct SharedHeaders;

fn header_schema(ty: Type, description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(ty)))
        .description(Some(description))
        .build()
}

const QUOTA_HEADERS: [(&str, Type, &str); 5] = [
    (
        "RateLimit-Policy",
        Type::String,
        "The key's quota (structured field): `\"quota\";q=<limit>;w=<period seconds>`",
    ),
    (
        "RateLimit",
        Type::String,
        "What is left (structured field): `\"quota\";r=<remaining>;t=<seconds to reset>`",
    ),
    ("X-RateLimit-Limit", Type::Integer, "The key's quota"),
    ("X-RateLimit-Remaining", Type::Integer, "Units left"),
    (
        "X-RateLimit-Reset",
        Type::Integer,
        "Next reset, in Unix seconds",
    ),
];

fn with_headers(response: &mut RefOr<Response>, headers: &[(&str, Type, &str)]) {
    if let RefOr::T(response) = response {
        for (name, ty, description) in headers {
            response.headers.insert(
                (*name).to_owned(),
                RefOr::T(header_schema(ty.clone(), description)),
            );
        }
    }
}

/// What the route table says of an OpenAPI path: who may call it.
fn access_of(path: &str) -> Access {
    ROUTES
        .iter()
        .find(|r| r.matches(path))
        .map_or(Access::Public, |r| r.access)
}

impl SharedHeaders {
    fn operation(path: &str, op: &mut Operation) {
        let access = access_of(path);
        let with_quota = access != Access::Public && path != "/get-current-time";
        for (status, response) in op.responses.responses.iter_mut() {
            with_headers(
                response,
                &[(
                    "X-Request-Id",
                    Type::String,
                    "Id of this request, also in the server's log line for it",
                )],
            );
            match status.as_str() {
                "200" if with_quota => with_headers(response, &QUOTA_HEADERS),
                "429" if access == Access::Metered => {
                    with_headers(response, &QUOTA_HEADERS);
                    with_headers(
                        response,
                        &[("Retry-After", Type::Integer, "Seconds to wait")],
                    );
                }
                "429" | "503" => with_headers(
                    response,
                    &[("Retry-After", Type::Integer, "Seconds to wait")],
                ),
                "401" => with_headers(
                    response,
                    &[(
                        "WWW-Authenticate",
                        Type::String,
                        "`Bearer realm=\"prime-api\"`",
                    )],
                ),
                _ => {}
            }
        }
    }
}

impl Modify for SharedHeaders {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let several = item.get.is_some() && item.post.is_some();
            for (method, op) in [("get", &mut item.get), ("post", &mut item.post)] {
                let Some(op) = op else { continue };
                SharedHeaders::operation(path, op);
                // One handler for several methods gets one id from utoipa; ids must be unique.
                if several && let Some(id) = &mut op.operation_id {
                    id.push('_');
                    id.push_str(method);
                }
            }
        }
    }
}

/// The OpenAPI document: every route of the table.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.paths = ROUTES
        .iter()
        .fold(PathsBuilder::new(), |paths, r| (r.openapi)(paths))
        .build();
    SecuritySchemes.modify(&mut doc);
    SharedHeaders.modify(&mut doc);
    doc
}

/// The document as JSON, built once.
pub fn document_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        document().to_pretty_json().unwrap_or_else(|e| {
            format!("{{\"error\":\"cannot render the OpenAPI document: {e}\"}}")
        })
    })
}
