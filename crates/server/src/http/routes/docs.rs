//! `GET /openapi.json` (the OpenAPI document) and Swagger UI at `GET /docs/` (served from files
//! compiled into the binary; no download).

use std::sync::{Arc, OnceLock};

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::http::openapi::document_json;
use crate::http::problem::ApiError;

/// The OpenAPI document of this API.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses((status = 200, description = "This document", content_type = "application/json"))
)]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document_json())
}

/// Swagger UI for this document (served from files compiled into the binary).
#[utoipa::path(
    get,
    path = "/docs/{file}",
    tag = "operations",
    params(("file" = String, Path, description = "Empty for the UI's page, else one of its assets")),
    responses(
        (status = 200, description = "The Swagger UI page or asset", content_type = "text/html"),
        (status = 404, description = "No such asset", body = crate::http::problem::Problem<'static>, content_type = "application/problem+json")
    )
)]
pub async fn docs(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    static CONFIG: OnceLock<Arc<utoipa_swagger_ui::Config<'static>>> = OnceLock::new();
    let config = CONFIG
        .get_or_init(|| Arc::new(utoipa_swagger_ui::Config::new(["/openapi.json"])))
        .clone();
    let file = file.into_inner();
    match utoipa_swagger_ui::serve(&file, config) {
        Ok(Some(found)) => {
            let mut response = HttpResponse::Ok();
            if found.gzpipped {
                response.insert_header((header::CONTENT_ENCODING, "gzip"));
            }
            Ok(response
                .content_type(found.content_type)
                .body(found.bytes.into_owned()))
        }
        Ok(None) => Err(ApiError::NotFound(format!(
            "/docs/{}",
            file.chars().take(100).collect::<String>()
        ))),
        Err(e) => Err(ApiError::Internal(format!("Swagger UI: {e}"))),
    }
}

/// `GET /docs` → `308` to `/docs/`.
pub async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/docs/"))
        .finish()
}
