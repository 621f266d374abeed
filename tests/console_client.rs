//! The console's client page over real HTTP (SPEC §8 "Client details", issue #14): what it
//! shows, Save changes, the Enabled switch (plain form and htmx), secrets added, deleted and
//! reset (each new one shown once), Delete client, re-authentication before the sensitive
//! ones, and a viewer who can change nothing.

mod common;

use common::Tessera;
use common::console::{
    Browser, age_second_factor, alerts, cli_client, field, fresh_code, location, project,
    signed_in, signed_in_with_totp,
};

/// Makes a client through the console's Create client form; returns its id and secret (read
/// from the page that shows it once).
async fn console_client(
    b: &Browser,
    name: &str,
    project: &str,
    scopes: &[&str],
) -> (String, String) {
    let csrf = b.csrf("/console/clients/new").await;
    let mut form = vec![
        ("csrf", csrf.as_str()),
        ("name", name),
        ("project", project),
    ];
    form.extend(scopes.iter().map(|s| ("scope", *s)));
    let res = b.post("/console/clients", &form).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let html = b.page(&location(&res)).await;
    shown_pair(&html)
}

/// The client ID and secret of a page that shows a secret once.
fn shown_pair(html: &str) -> (String, String) {
    let value = |id: &str| {
        let at = html.find(&format!("id=\"{id}\"")).expect(id);
        field(&html[at..], "value=\"")
    };
    (value("created-client-id"), value("created-client-secret"))
}

async fn token_status(s: &common::Server, id: &str, secret: &str) -> u16 {
    s.token_request(Some((id, secret)), &[("grant_type", "client_credentials")])
        .await
        .status()
        .as_u16()
}

#[tokio::test]
async fn the_client_page_shows_the_client_and_saves_changes() {
    let t = Tessera::new();
    project(&t, "delta");
    let s = t.serve();
    let (b, _) = signed_in(
        &t,
        &s,
        "ada@example.com",
        "delta",
        "admin",
        "delta-orders:read delta-orders:write",
    )
    .await;
    let (id, secret) = console_client(&b, "orders-sync", "delta", &["delta-orders:read"]).await;
    for _ in 0..3 {
        assert_eq!(token_status(&s, &id, &secret).await, 200);
    }
    let path = format!("/console/clients/{id}");
    // Token counts are written once their minute has ended: wait for them in the chart.
    let mut html = String::new();
    for _ in 0..320 {
        html = b.page(&path).await;
        if html.contains("3 tokens issued") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(html.contains("3 tokens issued"), "{html}");
    assert!(html.contains("<svg class=\"chart\""));
    assert_eq!(html.matches("<rect class=\"bar-rect\"").count(), 1);
    assert!(html.contains(": 3 tokens</title>"));
    // Who owns it, its id, and every action a manager has.
    assert!(html.contains("<dd id=\"owner\">Ada Lovelace (ada@example.com)</dd>"));
    assert!(html.contains(&format!("<code id=\"client-id\">{id}</code>")));
    assert!(html.contains("role=\"switch\" aria-checked=\"true\""));
    assert!(html.contains(">Enabled</button>"));
    for action in [
        ">Reset secret</a>",
        ">Delete client</a>",
        ">Save changes</button>",
        ">Add secret</button>",
    ] {
        assert!(html.contains(action), "{action}");
    }
    // The secret itself is not on the page: only its mask.
    assert!(!html.contains(&secret));
    assert!(html.contains(&format!("{}…", &secret[..8])) || html.contains("tsk_"));
    // Its audit events, the administrator as actor.
    assert!(html.contains("<code class=\"kind\">client.created</code>"));
    assert!(html.contains("<td>ada@example.com</td>"));

    // Save changes: bad fields are named, and nothing changes.
    let csrf = field(&html, "name=\"csrf\" value=\"");
    let res = b
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("name", "orders-sync-2"),
                ("scope", "delta-orders:read"),
                ("allowed_ips", "10.0.0.0/8\n300.1.1.1\n"),
                ("token_ttl_seconds", "soon"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    assert!(
        alerts(&page).contains("Token lifetime: must be a whole number"),
        "{}",
        alerts(&page)
    );
    assert!(
        page.contains("value=\"orders-sync-2\""),
        "the form keeps what was typed"
    );
    let res = b
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("name", "orders-sync-2"),
                ("allowed_ips", "10.0.0.0/8\n300.1.1.1\n"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    assert!(alerts(&page).contains("300.1.1.1"), "{}", alerts(&page));
    assert_eq!(t.cli_json(&["clients", "get", &id])["name"], "orders-sync");
    // Beyond the person's ceiling: refused, named.
    let res = b
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("name", "orders-sync"),
                ("scope", "delta-reports:read"),
            ],
        )
        .await;
    assert_eq!(res.status(), 403);
    assert!(alerts(&res.text().await.unwrap()).contains("delta-reports:read"));
    assert_eq!(
        t.cli_json(&["clients", "get", &id])["scopes"],
        serde_json::json!(["delta-orders:read"])
    );
    // Good ones are saved and audited with the person as actor.
    let res = b
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("name", "orders-sync-2"),
                ("description", "nightly"),
                ("scope", "delta-orders:read"),
                ("scope", "delta-orders:write"),
                ("allowed_ips", "127.0.0.1\n"),
                ("token_ttl_seconds", "300"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), format!("{path}?notice=saved"));
    let c = t.cli_json(&["clients", "get", &id]);
    assert_eq!(c["name"], "orders-sync-2");
    assert_eq!(c["description"], "nightly");
    assert_eq!(
        c["scopes"],
        serde_json::json!(["delta-orders:read", "delta-orders:write"])
    );
    assert_eq!(c["token_ttl_seconds"], 300);
    assert_eq!(c["enabled"], true);
    let html = b.page(&format!("{path}?notice=saved")).await;
    assert!(html.contains("Changes saved."));
    assert!(html.contains("<code class=\"kind\">client.updated</code>"));
    // A notice is chosen from a fixed list, never echoed from the URL.
    let html = b.page(&format!("{path}?notice=%3Cb%3Ehi")).await;
    assert!(!html.contains("<b>hi") && !html.contains("&lt;b&gt;hi"));
}

#[tokio::test]
async fn the_enabled_switch_stops_and_restarts_tokens() {
    let t = Tessera::new();
    project(&t, "delta");
    let s = t.serve();
    let (b, _) = signed_in(
        &t,
        &s,
        "ada@example.com",
        "delta",
        "admin",
        "delta-orders:read",
    )
    .await;
    let (id, secret) = console_client(&b, "switchy", "delta", &["delta-orders:read"]).await;
    let path = format!("/console/clients/{id}");
    let csrf = b.csrf(&path).await;

    // Without script: a form post, then the page.
    let res = b
        .post(
            &format!("{path}/enabled"),
            &[("csrf", &csrf), ("enabled", "false")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), format!("{path}?notice=disabled"));
    assert_eq!(token_status(&s, &id, &secret).await, 401);
    let html = b.page(&location(&res)).await;
    assert!(html.contains("role=\"switch\" aria-checked=\"false\""));

    // With htmx: the switch alone comes back, redrawn.
    let res = b
        .http
        .post(format!("{}{path}/enabled", b.base))
        .header("Sec-Fetch-Site", "same-origin")
        .header("HX-Request", "true")
        .form(&[("csrf", csrf.as_str()), ("enabled", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let fragment = res.text().await.unwrap();
    assert!(fragment.starts_with("<form"), "{fragment}");
    assert!(!fragment.contains("<html"));
    assert!(fragment.contains("aria-checked=\"true\""));
    assert!(fragment.contains("name=\"enabled\" value=\"false\""));
    assert_eq!(token_status(&s, &id, &secret).await, 200);

    // Without this session's token, or from another site: refused, nothing changed.
    let res = b
        .post(
            &format!("{path}/enabled"),
            &[("csrf", "forged"), ("enabled", "false")],
        )
        .await;
    assert_eq!(res.status(), 403);
    let res = b
        .http
        .post(format!("{}{path}/enabled", b.base))
        .header("Sec-Fetch-Site", "cross-site")
        .form(&[("csrf", csrf.as_str()), ("enabled", "false")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(token_status(&s, &id, &secret).await, 200);
    assert_eq!(t.cli_json(&["clients", "get", &id])["enabled"], true);
}

#[tokio::test]
async fn secrets_are_added_deleted_and_reset_each_shown_once() {
    let t = Tessera::new();
    project(&t, "delta");
    let s = t.serve();
    let (b, admin, totp) = signed_in_with_totp(
        &t,
        &s,
        "ada@example.com",
        "delta",
        "admin",
        "delta-orders:read",
    )
    .await;
    let (id, first) = console_client(&b, "rotating", "delta", &["delta-orders:read"]).await;
    let path = format!("/console/clients/{id}");
    let csrf = b.csrf(&path).await;

    // Add secret, with an expiry: shown once, and both work.
    let expires = (chrono::Utc::now() + chrono::TimeDelta::days(30))
        .format("%Y-%m-%d")
        .to_string();
    let res = b
        .post(
            &format!("{path}/secrets"),
            &[("csrf", &csrf), ("expires", &expires)],
        )
        .await;
    assert_eq!(res.status(), 303);
    let reveal = location(&res);
    assert_eq!(reveal, format!("{path}/secret"));
    let html = b.page(&reveal).await;
    assert!(html.contains("<h1>Secret added</h1>"));
    let (_, second) = shown_pair(&html);
    assert_ne!(first, second);
    assert_eq!(b.get(&reveal).await.status(), 303, "shown once");
    assert_eq!(token_status(&s, &id, &first).await, 200);
    assert_eq!(token_status(&s, &id, &second).await, 200);
    let html = b.page(&path).await;
    assert!(
        html.contains(&format!("<td>{expires} 00:00 UTC</td>")),
        "the expiry is listed"
    );
    // A date in the past is named and adds nothing.
    let res = b
        .post(
            &format!("{path}/secrets"),
            &[("csrf", &csrf), ("expires", "2001-01-01")],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(alerts(&res.text().await.unwrap()).contains("Expires"));

    // Delete secret (the first): through its confirmation page; it stops at once.
    let secrets = t.cli_json(&["clients", "secrets", "list", &id]);
    let items = secrets
        .as_array()
        .or_else(|| secrets["items"].as_array())
        .unwrap()
        .clone();
    assert_eq!(items.len(), 2);
    let oldest = items
        .iter()
        .min_by_key(|s| s["created_at"].as_str().unwrap().to_owned())
        .unwrap()["secret_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let confirm = b.page(&format!("{path}/secrets/{oldest}/delete")).await;
    assert!(confirm.contains("Delete secret") && confirm.contains("rotating"));
    let res = b
        .post(
            &format!("{path}/secrets/{oldest}/delete"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(token_status(&s, &id, &first).await, 401);
    assert_eq!(token_status(&s, &id, &second).await, 200);

    // Reset secret: confirmation, then the new one once; every older one stops.
    let confirm = b.page(&format!("{path}/reset")).await;
    assert!(confirm.contains("<h1>Reset the secret of rotating?</h1>"));
    assert!(confirm.contains(">Reset secret</button>"));
    let res = b.post(&format!("{path}/reset"), &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), 303);
    let html = b.page(&location(&res)).await;
    assert!(html.contains("<h1>Secret reset</h1>"));
    assert!(html.contains("Every older secret of this client has stopped working."));
    let (_, third) = shown_pair(&html);
    assert_eq!(token_status(&s, &id, &second).await, 401);
    assert_eq!(token_status(&s, &id, &third).await, 200);
    assert!(!s.log().contains(&third) && !s.log().contains(&second));

    // Once the re-authentication window has passed, a reset asks for a fresh code first
    // and changes nothing meanwhile.
    age_second_factor(&t, &admin, 11).await;
    let res = b.get(&format!("{path}/reset")).await;
    assert_eq!(res.status(), 303);
    let to = location(&res);
    assert_eq!(
        to,
        format!("/console/reauth?then=%2Fconsole%2Fclients%2F{id}%2Freset")
    );
    let res = b.post(&format!("{path}/reset"), &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), 303);
    assert!(location(&res).starts_with("/console/reauth?"));
    assert_eq!(token_status(&s, &id, &third).await, 200);
    let reauth = b.page(&to).await;
    assert!(reauth.contains("<label for=\"code\">Authentication code</label>"));
    let res = b
        .post(
            "/console/reauth",
            &[
                ("csrf", &csrf),
                ("then", &format!("/console/clients/{id}/reset")),
                ("code", "000000"),
            ],
        )
        .await;
    assert_eq!(res.status(), 401);
    let code = fresh_code(&totp).await;
    // `then` is a console path only: another site is replaced by the Clients page.
    let res = b
        .post(
            "/console/reauth",
            &[
                ("csrf", &csrf),
                ("then", "//evil.example/x"),
                ("code", &code),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/console/clients");
    let confirm = b.page(&format!("{path}/reset")).await;
    assert!(confirm.contains(">Reset secret</button>"));
}

#[tokio::test]
async fn delete_client_names_it_then_deletes_it() {
    let t = Tessera::new();
    project(&t, "delta");
    let s = t.serve();
    let (b, _) = signed_in(
        &t,
        &s,
        "ada@example.com",
        "delta",
        "admin",
        "delta-orders:read",
    )
    .await;
    let (id, secret) = console_client(&b, "short-lived", "delta", &["delta-orders:read"]).await;
    let path = format!("/console/clients/{id}");
    let confirm = b.page(&format!("{path}/delete")).await;
    assert!(confirm.contains("<h1>Delete client short-lived?</h1>"));
    assert!(confirm.contains(&id));
    let csrf = field(&confirm, "name=\"csrf\" value=\"");
    let res = b.post(&format!("{path}/delete"), &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/console/clients?deleted=1");
    assert!(
        b.page("/console/clients?deleted=1")
            .await
            .contains("The client was deleted")
    );
    assert_eq!(token_status(&s, &id, &secret).await, 401);
    assert_eq!(b.get(&path).await.status(), 404);
}

#[tokio::test]
async fn a_viewer_sees_no_action_and_changes_nothing() {
    let t = Tessera::new();
    project(&t, "delta");
    project(&t, "omega");
    let (id, secret) = cli_client(&t, "delta", "watched");
    t.cli_json(&["clients", "update", &id, "--scopes", "delta-orders:read"]);
    let (theirs, _) = cli_client(&t, "omega", "elsewhere");
    let s = t.serve();
    let (b, _) = signed_in(&t, &s, "vic@example.com", "delta", "viewer", "").await;
    let path = format!("/console/clients/{id}");
    let html = b.page(&path).await;
    assert!(html.contains("<h1>watched</h1>"));
    for action in [
        "role=\"switch\"",
        ">Reset secret<",
        ">Delete client<",
        ">Save changes<",
        ">Add secret<",
        "/delete\"",
    ] {
        assert!(!html.contains(action), "a viewer sees {action}");
    }
    assert!(
        html.contains("<li>delta-orders:read</li>"),
        "read-only permissions"
    );
    assert!(html.contains("None (a root client)"));
    // Forged posts with a valid session token: refused by the operations, nothing changed.
    let csrf = field(&html, "name=\"csrf\" value=\"");
    for (action, form) in [
        (
            "enabled",
            vec![("csrf", csrf.as_str()), ("enabled", "false")],
        ),
        ("reset", vec![("csrf", csrf.as_str())]),
        ("delete", vec![("csrf", csrf.as_str())]),
        ("secrets", vec![("csrf", csrf.as_str())]),
    ] {
        let res = b.post(&format!("{path}/{action}"), &form).await;
        assert_eq!(res.status(), 403, "{action}");
    }
    let res = b.post(&path, &[("csrf", &csrf), ("name", "renamed")]).await;
    assert_eq!(res.status(), 403);
    let c = t.cli_json(&["clients", "get", &id]);
    assert_eq!(c["name"], "watched");
    assert_eq!(c["enabled"], true);
    assert_eq!(token_status(&s, &id, &secret).await, 200);
    // Another team's client does not exist for them.
    assert_eq!(
        b.get(&format!("/console/clients/{theirs}")).await.status(),
        404
    );
    assert_eq!(
        b.post(
            &format!("/console/clients/{theirs}/enabled"),
            &[("csrf", &csrf), ("enabled", "false")]
        )
        .await
        .status(),
        403
    );
    assert_eq!(t.cli_json(&["clients", "get", &theirs])["enabled"], true);
}

#[tokio::test]
async fn conflicts_are_said_not_failed() {
    let t = Tessera::new();
    project(&t, "delta");
    let s = t.serve();
    let (ada, _) = signed_in(
        &t,
        &s,
        "ada@example.com",
        "delta",
        "admin",
        "delta-orders:read",
    )
    .await;
    let (bob, _) = signed_in(
        &t,
        &s,
        "bob@example.com",
        "delta",
        "admin",
        "delta-orders:read",
    )
    .await;
    let (id, _) = console_client(&ada, "adas-client", "delta", &["delta-orders:read"]).await;
    let path = format!("/console/clients/{id}");

    // Ada leaves: her client is disabled, and Bob may not simply enable it again.
    t.cli(&["admins", "disable", "ada@example.com"]);
    let csrf = bob.csrf(&path).await;
    let res = bob
        .http
        .post(format!("{}{path}/enabled", bob.base))
        .header("Sec-Fetch-Site", "same-origin")
        .header("HX-Request", "true")
        .form(&[("csrf", csrf.as_str()), ("enabled", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let fragment = res.text().await.unwrap();
    assert!(fragment.contains("aria-checked=\"false\""), "{fragment}");
    assert!(fragment.contains("class=\"error\""), "{fragment}");
    let res = bob
        .post(
            &format!("{path}/enabled"),
            &[("csrf", &csrf), ("enabled", "true")],
        )
        .await;
    assert_eq!(res.status(), 409);
    assert!(!alerts(&res.text().await.unwrap()).is_empty());
    assert_eq!(t.cli_json(&["clients", "get", &id])["enabled"], false);

    // At most ten secrets: the eleventh is a conflict, said on the page.
    let (mine, _) = console_client(&bob, "bobs-client", "delta", &["delta-orders:read"]).await;
    let path = format!("/console/clients/{mine}");
    for _ in 0..9 {
        let res = bob
            .post(&format!("{path}/secrets"), &[("csrf", &csrf)])
            .await;
        assert_eq!(res.status(), 303);
    }
    let res = bob
        .post(&format!("{path}/secrets"), &[("csrf", &csrf)])
        .await;
    assert_eq!(res.status(), 409);
    assert!(!alerts(&res.text().await.unwrap()).is_empty());

    // An inline update without a session: htmx is told to navigate to sign-in rather than
    // swap the sign-in page into the switch.
    let stranger = Browser::new(&s);
    let res = stranger
        .http
        .post(format!("{}{path}/enabled", stranger.base))
        .header("Sec-Fetch-Site", "same-origin")
        .header("HX-Request", "true")
        .form(&[("csrf", "x"), ("enabled", "false")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["hx-redirect"], "/console/sign-in");
    assert_eq!(t.cli_json(&["clients", "get", &mine])["enabled"], true);
}
