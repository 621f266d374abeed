//! The command line and configuration, run as a user would.

mod common;

use common::Tessera;

#[test]
fn migrate_creates_the_builtin_admin_api() {
    let t = Tessera::new();
    let out = t.cli(&["migrate"]);
    assert!(out.status.success());
    let apis = t.cli_json(&["apis", "list"]);
    let admin = apis
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "admin")
        .expect("admin API");
    assert_eq!(admin["permissions"], serde_json::json!(["read", "write"]));
    assert!(admin["audience"].as_str().unwrap().ends_with("/admin"));
}

#[test]
fn clients_create_shows_the_secret_once() {
    let t = Tessera::new();
    t.create_api("orders", "https://api.example.com/orders", "read,write");
    let created = t.cli_json(&[
        "clients",
        "create",
        "--name",
        "billing",
        "--description",
        "sync",
        "--scopes",
        "orders:write orders:read",
    ]);
    let secret = created["client_secret"].as_str().unwrap();
    assert!(secret.starts_with("tsk_"));
    assert!(secret.len() >= 4 + 43, "at least 256 bits of base64url");
    assert_eq!(created["name"], "billing");
    assert_eq!(created["enabled"], true);
    assert_eq!(
        created["scopes"],
        serde_json::json!(["orders:read", "orders:write"])
    );
    assert!(created["owner"].is_null(), "CLI clients are root clients");

    let listed = t.cli(&["clients", "list", "--json"]);
    let text = String::from_utf8(listed.stdout).unwrap();
    assert!(!text.contains(secret), "list must never show a secret");
    assert!(!text.contains("argon2"), "list must never show a hash");
    let list: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(list[0]["client_id"], created["client_id"]);
}

#[test]
fn invalid_input_is_refused_with_the_field_named() {
    let t = Tessera::new();
    t.create_api("audit", "https://api.example.com/audit", "read");
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "apis",
                "create",
                "--name",
                "Bad Name",
                "--audience",
                "https://x",
            ],
            "name",
        ),
        (
            &["apis", "create", "--name", "x", "--audience", "not a uri"],
            "audience",
        ),
        (
            &[
                "apis",
                "create",
                "--name",
                "x",
                "--audience",
                "https://x",
                "--permissions",
                "delete",
            ],
            "permissions",
        ),
        (
            &[
                "apis",
                "create",
                "--name",
                "audit",
                "--audience",
                "https://other",
            ],
            "name",
        ),
        (
            &[
                "clients",
                "create",
                "--name",
                "c",
                "--scopes",
                "audit:write",
            ],
            "scopes",
        ),
        (
            &["clients", "create", "--name", "c", "--scopes", "nope:read"],
            "scopes",
        ),
        (&["clients", "create", "--name", " "], "name"),
    ];
    for (args, field) in cases {
        let out = t.cli(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(field), "{args:?}: {err}");
    }
    // Nothing was created by the refused commands.
    let clients = t.cli_json(&["clients", "list"]);
    assert_eq!(clients.as_array().unwrap().len(), 0);
    let apis = t.cli_json(&["apis", "list"]);
    assert_eq!(apis.as_array().unwrap().len(), 2, "admin and audit only");
}

#[test]
fn a_bad_configuration_value_is_one_clear_line() {
    let cases = [
        ("TESSERA__KEYS__ALGORITHM", "HS256", "keys.algorithm"),
        ("TESSERA__TOKEN__TTL_SECONDS", "abc", "token.ttl_seconds"),
        ("TESSERA__TOKEN__TTL_SECONDS", "7200", "token.ttl_seconds"),
        ("TESSERA__SERVER__BIND", "localhost", "server.bind"),
        ("TESSERA__KEYS__ROTATE_AFTER", "soon", "keys.rotate_after"),
        (
            "TESSERA__SERVER__TRUSTED_PROXIES",
            "10.0.0.0/33",
            "server.trusted_proxies",
        ),
        ("TESSERA__DATABASE__URL", "mysql://x", "database.url"),
        ("TESSERA__ISSUER", "ftp://x", "issuer"),
        (
            "TESSERA__SERVER__MAX_CONNECTIONS",
            "0",
            "server.max_connections",
        ),
        (
            "TESSERA__SERVER__BODY_TIMEOUT_SECONDS",
            "0",
            "server.body_timeout_seconds",
        ),
        (
            "TESSERA__LIMITS__FAILED_AUTH_PER_CLIENT",
            "ten",
            "limits.failed_auth_per_client",
        ),
    ];
    for (key, value, name) in cases {
        // About configuration, not the database: the embedded default suffices.
        let mut t = Tessera::on_sqlite();
        t.set(key, value);
        let out = t.cli(&["migrate"]);
        assert_eq!(out.status.code(), Some(2), "{key}={value}");
        let err = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 1, "{key}: {err}");
        assert!(lines[0].contains(name), "{err}");
        assert!(lines[0].contains(value), "{err}");
        assert!(
            !t.path().join("tessera.db").exists(),
            "nothing done on bad config"
        );
    }
}

#[tokio::test]
async fn configuration_layers_file_then_environment() {
    let mut t = Tessera::new();
    t.create_api("orders", "https://api.example.com/orders", "read");
    let (id, secret) = t.create_client("c", "orders:read");
    let file = t.path().join("tessera.toml");
    std::fs::write(&file, "[token]\nttl_seconds = 120\n").unwrap();
    let file = file.display().to_string();

    let s = t.serve_with(&["--config", &file]);
    let token = s.token(&id, &secret, &[]).await;
    assert_eq!(token["expires_in"], 120);
    s.stop();

    t.set("TESSERA__TOKEN__TTL_SECONDS", "300");
    let s = t.serve_with(&["--config", &file]);
    let token = s.token(&id, &secret, &[]).await;
    assert_eq!(token["expires_in"], 300, "environment overrides the file");
}

#[tokio::test]
async fn cli_parity_for_clients_secrets_and_apis() {
    let t = Tessera::new();
    t.create_api("orders", "https://api.example.com/orders", "read,write");
    t.create_api("audit", "https://api.example.com/audit", "read");
    let (id, first) = t.create_client("svc", "orders:read");

    let updated = t.cli_json(&[
        "clients",
        "update",
        &id,
        "--description",
        "nightly sync",
        "--scopes",
        "orders:read audit:read",
        "--token-ttl-seconds",
        "120",
    ]);
    assert_eq!(updated["description"], "nightly sync");
    assert_eq!(
        updated["scopes"],
        serde_json::json!(["audit:read", "orders:read"])
    );
    assert_eq!(updated["token_ttl_seconds"], 120);
    assert_eq!(updated["name"], "svc", "untouched fields keep their values");

    let added = t.cli_json(&["clients", "secrets", "add", &id]);
    let second = added["client_secret"].as_str().unwrap().to_owned();
    let listed = t.cli_json(&["clients", "secrets", "list", &id]);
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let text = listed.to_string();
    assert!(!text.contains(&first) && !text.contains(&second) && !text.contains("argon2"));

    // Both secrets work; the server reads the client on first use.
    let s = t.serve();
    let token = s.token(&id, &first, &[]).await;
    assert_eq!(token["expires_in"], 120);
    s.token(&id, &second, &[]).await;
    s.stop();

    // Delete the first secret, then reset: only the newest works (fresh server, no cache).
    let first_id = listed[0]["secret_id"].as_str().unwrap().to_owned();
    assert!(
        t.cli(&["clients", "secrets", "delete", &id, &first_id])
            .status
            .success()
    );
    let reset = t.cli_json(&["clients", "secrets", "reset", &id]);
    let newest = reset["client_secret"].as_str().unwrap().to_owned();
    let s = t.serve();
    for (secret, want) in [(&first, 401), (&second, 401), (&newest, 200)] {
        let resp = s
            .token_request(Some((&id, secret)), &[("grant_type", "client_credentials")])
            .await;
        assert_eq!(resp.status(), want);
    }
    s.stop();

    assert!(t.cli(&["clients", "disable", &id]).status.success());
    assert_eq!(t.cli_json(&["clients", "get", &id])["enabled"], false);
    let s = t.serve();
    let resp = s
        .token_request(
            Some((&id, &newest)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(resp.status(), 401, "disabled client");
    s.stop();
    assert!(t.cli(&["clients", "enable", &id]).status.success());
    assert_eq!(t.cli_json(&["clients", "get", &id])["enabled"], true);

    // An API in use is deleted only with --force, which removes the grant.
    let out = t.cli(&["apis", "delete", "audit"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        t.cli(&["apis", "delete", "audit", "--force"])
            .status
            .success()
    );
    assert_eq!(
        t.cli_json(&["clients", "get", &id])["scopes"],
        serde_json::json!(["orders:read"])
    );
    assert_eq!(t.cli(&["apis", "delete", "admin"]).status.code(), Some(2));

    assert!(t.cli(&["clients", "delete", &id]).status.success());
    let out = t.cli(&["clients", "get", &id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"));
}
