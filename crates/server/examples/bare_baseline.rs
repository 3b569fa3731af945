//! The load benchmark's yardstick: a bare actix-web server that parses the same JSON body as
//! `/check-prime` and answers, with no authentication, no store and no arithmetic.
//!
//! `scripts/load-test.sh` runs it beside `prime-server` so throughput is compared as a ratio
//! measured in one run (this machine is shared and noisy; absolute numbers do not travel).
//!
//! ```text
//! cargo run --release -p prime-server --example bare_baseline -- 127.0.0.1:5099 2
//! ```

use actix_web::{App, HttpResponse, HttpServer, web};
use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Deserialize)]
struct NumberRequest {
    number: Box<RawValue>,
}

async fn answer(body: web::Json<NumberRequest>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "number": body.number, "isPrime": false }))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let bind = args.next().unwrap_or_else(|| "127.0.0.1:5099".to_owned());
    let workers = args
        .next()
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    HttpServer::new(|| App::new().default_service(web::to(answer)))
        .workers(workers)
        .bind(bind)?
        .run()
        .await
}
