//! The requests tests send, to an in-process app or a real process alike.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};
use serde_json::Value;

/// A plain-HTTP client (no proxies, a generous timeout).
pub fn client() -> Client {
    // reqwest uses `rustls-no-provider`: a provider must exist even for plain http.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// A server under test: its base URL and a client for it.
#[derive(Debug, Clone)]
pub struct Target {
    /// `http://127.0.0.1:PORT` (or `https://…`).
    pub base: String,
    /// A client that trusts the server.
    pub client: Client,
}

impl Target {
    /// The full URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// `HOST:PORT`.
    pub fn addr(&self) -> String {
        self.base
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .to_owned()
    }

    /// `POST /check-prime` with the key in `Authorization` and a raw JSON body.
    pub fn check(&self, key: &str, body: &str) -> Response {
        self.client
            .post(self.url("/check-prime"))
            .header("Authorization", key)
            .header("Content-Type", "application/json")
            .body(body.to_owned())
            .send()
            .unwrap()
    }

    /// `GET path`, with the key in `Authorization` when given.
    pub fn get(&self, path: &str, key: Option<&str>) -> Response {
        let mut req = self.client.get(self.url(path));
        if let Some(k) = key {
            req = req.header("Authorization", k);
        }
        req.send().unwrap()
    }

    /// `GET /usage` for `key` (must answer `200`).
    pub fn usage(&self, key: &str) -> Value {
        let r = self.get("/usage", Some(key));
        assert_eq!(r.status(), StatusCode::OK);
        r.json().unwrap()
    }

    /// Whether `/healthz` answers `200`.
    pub fn healthy(&self) -> bool {
        self.get("/healthz", None).status() == StatusCode::OK
    }
}

/// Fire `n` `/check-prime` requests at once (one thread each, released together by a barrier),
/// sent round-robin to `urls` (full `/check-prime` URLs); the statuses in request order.
pub fn concurrent_checks(urls: &[String], key: &str, n: usize) -> Vec<StatusCode> {
    let requests = (0..n)
        .map(|i| {
            let body = format!("{{\"number\": {}}}", 1_000_003 + 2 * i);
            (urls[i % urls.len()].clone(), key.to_owned(), body)
        })
        .collect();
    concurrent_posts(requests)
}

/// Fire one JSON `POST` per `(url, key, body)` at once (one thread each, released together by
/// a barrier); the statuses in request order.
pub fn concurrent_posts(requests: Vec<(String, String, String)>) -> Vec<StatusCode> {
    let barrier = Arc::new(Barrier::new(requests.len()));
    let handles: Vec<_> = requests
        .into_iter()
        .map(|(url, key, body)| {
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let client = client();
                barrier.wait();
                client
                    .post(url)
                    .header("Authorization", key)
                    .header("Content-Type", "application/json")
                    .body(body)
                    .send()
                    .unwrap()
                    .status()
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

/// How many of `statuses` are `status`.
pub fn count(statuses: &[StatusCode], status: StatusCode) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

/// Assert a problem+json error body with a one-line `error`; the body.
pub fn assert_problem(r: Response, status: StatusCode) -> Value {
    assert_eq!(r.status(), status);
    let ct = r
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(ct, "application/problem+json");
    let body: Value = r.json().unwrap();
    assert_eq!(body["status"], status.as_u16());
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| !e.is_empty() && !e.contains('\n'))
    );
    assert!(body["title"].is_string() && body["type"].is_string() && body["detail"].is_string());
    body
}
