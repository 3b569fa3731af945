//! The key CLI, the first-start key, and secrecy of keys in the database file and the logs.

use crate::common::{StatusCode, TestEnv};
use sha2::Digest;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn first_serve_creates_and_prints_one_key_once() {
    let env = TestEnv::new();
    let server = env.spawn_process(&["--default-limit", "5"]);
    let printed = server.printed();
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 1, "{printed:?}");
    let key = lines[0].rsplit(' ').next().unwrap().to_owned();
    assert!(key.starts_with("pk_"), "{printed}");
    assert!(lines[0].contains("shown once"));
    let u = server.usage(&key);
    assert_eq!(
        (u["name"].as_str(), u["limit"].as_i64()),
        (Some("default"), Some(5))
    );
    assert_eq!(
        server.check(&key, r#"{"number": 5}"#).status(),
        StatusCode::OK
    );
    assert!(server.terminate().success());

    let server = env.spawn_process(&[]);
    assert_eq!(server.printed(), "", "a store with keys prints nothing");
    assert_eq!(server.usage(&key)["used"], 1);
}

#[test]
fn keys_subcommands() {
    let env = TestEnv::new();
    let key = env.create_key("ci", &["--limit", "42", "--reset-schedule", "0 30 * * * *"]);
    assert!(key.starts_with("pk_") && key.len() >= 30 && !key.contains(char::is_whitespace));
    let other = env.create_key("temp", &["--expires-in", "30d"]);
    assert_ne!(key, other);

    let list = env.list();
    assert_eq!(list.len(), 2);
    let k = &list[0];
    for field in [
        "id",
        "name",
        "prefix",
        "limit",
        "used",
        "resetSchedule",
        "expiresAt",
        "revoked",
    ] {
        assert!(k.get(field).is_some(), "missing {field}: {k}");
    }
    assert_eq!(k["name"], "ci");
    assert_eq!(k["limit"], 42);
    assert_eq!(k["used"], 0);
    assert_eq!(k["resetSchedule"], "0 30 * * * *");
    assert_eq!(k["revoked"], false);
    assert_eq!(k["expiresAt"], serde_json::Value::Null);
    assert_eq!(k["prefix"], &key[..8]);
    let expires =
        chrono::DateTime::parse_from_rfc3339(list[1]["expiresAt"].as_str().unwrap()).unwrap();
    let in_days = (expires.timestamp() - chrono::Utc::now().timestamp()) / 86400;
    assert!((29..=30).contains(&in_days));

    // The table form.
    let out = env.cli(&["keys", "list"]);
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.lines().next().unwrap().contains("PREFIX"));
    assert!(table.contains("ci") && table.contains(&key[..8]) && !table.contains(&key));

    // --database before the subcommand name works too.
    let out = std::process::Command::new(crate::common::BIN)
        .args(["--database", &env.db_url, "keys", "list", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");

    let id = k["id"].as_i64().unwrap().to_string();
    let ok = |args: &[&str]| {
        let out = env.cli(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    };
    ok(&[
        "keys",
        "update",
        &id,
        "--name",
        "ci2",
        "--limit",
        "7",
        "--clear-reset-schedule",
    ]);
    ok(&["keys", "update", &id, "--expires-in", "12h"]);
    let k = &env.list()[0];
    assert_eq!(
        (k["name"].as_str(), k["limit"].as_i64()),
        (Some("ci2"), Some(7))
    );
    assert_eq!(k["resetSchedule"], serde_json::Value::Null);
    assert!(k["expiresAt"].is_string());
    ok(&[
        "keys",
        "update",
        &id,
        "--no-expiry",
        "--reset-schedule",
        "*/5 * * * * *",
    ]);
    let k = &env.list()[0];
    assert_eq!(k["expiresAt"], serde_json::Value::Null);
    assert_eq!(k["resetSchedule"], "*/5 * * * * *");
    ok(&["keys", "reset-usage", &id]);
    ok(&["keys", "revoke", &id]);
    assert_eq!(env.list()[0]["revoked"], true);

    // Errors: non-zero exit, one clear line on stderr, nothing on stdout.
    for (args, needle) in [
        (vec!["keys", "revoke", "999"], "no key with id 999"),
        (vec!["keys", "reset-usage", "999"], "no key with id 999"),
        (
            vec!["keys", "update", "999", "--limit", "1"],
            "no key with id 999",
        ),
        (
            vec![
                "keys",
                "create",
                "--name",
                "x",
                "--reset-schedule",
                "0 0 * * *",
            ],
            "invalid reset schedule",
        ),
        (
            vec!["keys", "update", &id, "--reset-schedule", "nonsense"],
            "invalid reset schedule",
        ),
        (
            vec!["keys", "create", "--name", "x", "--limit=-1"],
            "--limit",
        ),
    ] {
        let out = env.cli(&args);
        assert!(!out.status.success(), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(out.stdout.is_empty());
    }
    let out = env.cli(&["keys", "create", "--name", "x", "--expires-in", "soon"]);
    assert!(!out.status.success());
    assert_eq!(env.list().len(), 2, "failed commands created nothing");
}

#[test]
fn database_and_logs_never_contain_a_key() {
    let env = TestEnv::new();
    let server = env.spawn_process(&["--auth-failure-burst", "1000"]);
    let first = server
        .printed()
        .trim()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_owned();
    let second = env.create_key("second", &["--limit", "2"]);
    for key in [&first, &second] {
        for auth in [key.clone(), format!("Bearer {key}")] {
            let _ = server.check(&auth, r#"{"number": 12}"#);
            let _ = server.check(&auth, r#"{"number": 1.5}"#);
            let _ = server.get("/usage", Some(&auth));
            let _ = server.get(&format!("/{key}"), Some(&auth));
        }
        let _ = server.get(&format!("/get-current-time?key={key}"), None);
    }
    // A revoked key and a typo of a key are logged without their text either.
    let id = env.id_of(&second).to_string();
    assert!(env.cli(&["keys", "revoke", &id]).status.success());
    let _ = server.check(&second, r#"{"number": 12}"#);
    let typo = format!("{}x", &second[..second.len() - 1]);
    let _ = server.check(&typo, r#"{"number": 12}"#);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let logs = server.logs();
    assert!(server.terminate().success());

    assert!(
        logs.contains("status=200") && logs.contains(&first[..8]),
        "{logs}"
    );
    let mut db = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{}{suffix}", env.db_path.display());
        if let Ok(bytes) = std::fs::read(&path) {
            db.extend(bytes);
        }
    }
    assert!(!db.is_empty());
    let db = String::from_utf8_lossy(&db).into_owned();
    for key in [&first, &second, &typo] {
        let secret_part = &key[8..];
        assert!(!logs.contains(secret_part), "key in logs");
        assert!(!db.contains(secret_part), "key in database");
        let hash = sha2::Sha256::digest(key.as_bytes());
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        assert!(!logs.to_lowercase().contains(&hex), "hash in logs");
    }
}
