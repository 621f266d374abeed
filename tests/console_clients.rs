//! The console's Clients pages over real HTTP (SPEC §8, issue #14): the table shows only the
//! person's project, with search, status filter, sort and pages; Create client grants within
//! the person's ceiling, shows the secret once, and refuses everything else with nothing made.

mod common;

use common::Tessera;
use common::console::{
    Browser, alerts, cli_client, field, location, names, project, rows, signed_in,
};

/// The ids of a project's clients, by the CLI.
fn client_ids(t: &Tessera, project: &str) -> Vec<String> {
    let v = t.cli_json(&["clients", "list", "--project", project]);
    let items = v
        .as_array()
        .or_else(|| v["items"].as_array())
        .unwrap_or_else(|| panic!("{v}"));
    items
        .iter()
        .map(|c| c["client_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_clients_table_shows_the_persons_project_only_and_escapes_names() {
    let t = Tessera::new();
    project(&t, "alpha");
    project(&t, "beta");
    let (mine, _) = cli_client(&t, "alpha", "alpha-one");
    let (theirs, _) = cli_client(&t, "beta", "beta-hidden");
    cli_client(&t, "alpha", "<script>alert(1)</script>");
    let s = t.serve();
    let (b, _) = signed_in(
        &t,
        &s,
        "ada@example.com",
        "alpha",
        "admin",
        "alpha-orders:read",
    )
    .await;

    let res = b.get("/console").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/console/clients");
    let res = b.get("/console/clients").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let html = res.text().await.unwrap();
    let thead = &html[html.find("<thead>").unwrap()..html.find("</thead>").unwrap()];
    let headers: Vec<&str> = thead
        .split("</a></th>")
        .filter_map(|h| h.rfind('>').map(|i| &h[i + 1..]))
        .filter(|h| !h.trim().is_empty())
        .collect();
    assert_eq!(
        headers,
        ["Name", "Client ID", "Created", "Last redeemed", "Status"]
    );
    assert!(html.contains(">Sign out</button>"));
    assert!(html.contains("href=\"/console/clients/new\">Create client</a>"));
    let table = rows(&html);
    assert_eq!(table.len(), 2, "{table:?}");
    let row = table.iter().find(|r| r[0] == "alpha-one").unwrap();
    assert_eq!(row[1], mine);
    assert_eq!(row[3], "Never");
    assert_eq!(row[4], "Enabled");
    // Another project's client: not listed, not found by its id, no page of its own.
    assert!(!html.contains(&theirs) && !html.contains("beta-hidden"));
    let found = b.page(&format!("/console/clients?q={theirs}")).await;
    assert!(rows(&found).is_empty() && !found.contains("beta-hidden"));
    assert!(found.contains("0 clients."));
    assert_eq!(
        b.get(&format!("/console/clients/{theirs}")).await.status(),
        404
    );
    // A name is text, never markup.
    assert!(
        html.contains(">&#60;script&#62;alert(1)&#60;/script&#62;</a></td>")
            || html.contains(">&lt;script&gt;alert(1)&lt;/script&gt;</a></td>")
    );
    assert!(!html.contains("<script>alert(1)"));

    // A viewer sees the table but is not offered Create client, and its form is refused.
    let (viewer, _) = signed_in(&t, &s, "viewer@example.com", "alpha", "viewer", "").await;
    let html = viewer.page("/console/clients").await;
    assert_eq!(rows(&html).len(), 2);
    assert!(!html.contains("Create client"));
    assert_eq!(viewer.get("/console/clients/new").await.status(), 403);
    // Signed out: back to sign-in.
    let stranger = Browser::new(&s);
    let res = stranger.get("/console/clients").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/console/sign-in");
}

#[tokio::test]
async fn search_status_filter_sort_and_pages_work() {
    let t = Tessera::new();
    project(&t, "gamma");
    let mut ids = Vec::new();
    for i in 0..55 {
        let name = format!("client-{i:02}");
        if i == 10 {
            // It will get a token, so it needs a scope.
            let v = t.cli_json(&[
                "clients",
                "create",
                "--name",
                &name,
                "--project",
                "gamma",
                "--scopes",
                "gamma-orders:read",
            ]);
            ids.push((
                v["client_id"].as_str().unwrap().to_owned(),
                v["client_secret"].as_str().unwrap().to_owned(),
            ));
        } else {
            ids.push(cli_client(&t, "gamma", &name));
        }
    }
    for i in [3, 7] {
        assert!(t.cli(&["clients", "disable", &ids[i].0]).status.success());
    }
    let s = t.serve();
    // client-10 gets a token: it has been redeemed, the others never.
    s.token(&ids[10].0, &ids[10].1, &[]).await;
    let (b, _) = signed_in(&t, &s, "grace@example.com", "gamma", "admin", "").await;

    let first = b.page("/console/clients").await;
    let expected: Vec<String> = (0..50).map(|i| format!("client-{i:02}")).collect();
    assert_eq!(names(&first), expected);
    assert!(first.contains("55 clients, page 1 of 2."));
    assert!(first.contains(">Next</a>") && !first.contains(">Previous</a>"));
    let next_link = {
        let i = first.find(">Next</a>").unwrap();
        let start = first[..i].rfind("href=\"").unwrap() + 6;
        first[start..i - 1]
            .split('"')
            .next()
            .unwrap()
            .replace("&amp;", "&")
            .replace("&#38;", "&")
    };
    let second = b.page(&next_link).await;
    assert_eq!(
        names(&second),
        (50..55)
            .map(|i| format!("client-{i:02}"))
            .collect::<Vec<_>>()
    );
    assert!(second.contains(">Previous</a>") && !second.contains(">Next</a>"));

    // Sort: by name descending, by id, by creation, by last redeemed, by status.
    let desc = b.page("/console/clients?sort=name&order=desc").await;
    assert_eq!(names(&desc)[0], "client-54");
    assert!(desc.contains("aria-sort=\"descending\""));
    let by_id = rows(&b.page("/console/clients?sort=client_id&order=asc").await);
    let shown: Vec<String> = by_id.iter().map(|r| r[1].clone()).collect();
    let mut all: Vec<String> = ids.iter().map(|(id, _)| id.clone()).collect();
    all.sort();
    assert_eq!(shown, all[..50]);
    let newest = b.page("/console/clients?sort=created&order=desc").await;
    assert_eq!(names(&newest)[0], "client-54");
    assert_eq!(names(&newest)[1], "client-53");
    // Use is written in batches (every 5 s): wait for it. Until then every client sorts as
    // never redeemed, by id, so client-10 may already be first: wait for its date too.
    let mut used = Vec::new();
    for _ in 0..120 {
        used = rows(&b.page("/console/clients?sort=last_used&order=desc").await);
        if used[0][0] == "client-10" && used[0][3] != "Never" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert_eq!(used[0][0], "client-10");
    assert_ne!(used[0][3], "Never");
    assert_eq!(used[1][3], "Never");
    let by_status = names(&b.page("/console/clients?sort=status&order=asc").await);
    let mut first_two = by_status[..2].to_vec();
    first_two.sort();
    assert_eq!(first_two, ["client-03", "client-07"]);

    // Status filter.
    let disabled = rows(&b.page("/console/clients?status=disabled").await);
    assert_eq!(
        disabled.iter().map(|r| r[0].as_str()).collect::<Vec<_>>(),
        ["client-03", "client-07"]
    );
    assert!(disabled.iter().all(|r| r[4] == "Disabled"));
    let enabled = b.page("/console/clients?status=enabled").await;
    assert!(enabled.contains("53 clients, page 1 of 2."));
    assert!(!names(&enabled).contains(&"client-03".to_owned()));

    // Search by part of the name (any case) and by id.
    let found = names(&b.page("/console/clients?q=CLIENT-2").await);
    assert_eq!(
        found,
        (20..30).map(|i| format!("client-{i}")).collect::<Vec<_>>()
    );
    let by_id = rows(&b.page(&format!("/console/clients?q={}", ids[42].0)).await);
    assert_eq!(by_id.len(), 1);
    assert_eq!(by_id[0][0], "client-42");
    // Search and filter combine; a wildcard is a literal character.
    let both = names(&b.page("/console/clients?q=client-0&status=disabled").await);
    assert_eq!(both, ["client-03", "client-07"]);
    assert!(rows(&b.page("/console/clients?q=%25").await).is_empty());
}

/// The value of the read-only field `id` on the result page.
fn shown(html: &str, id: &str) -> String {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("{id} in {html}"));
    field(&html[at..], "value=\"")
}

#[tokio::test]
async fn create_client_within_the_ceiling_shows_the_secret_once() {
    let t = Tessera::new();
    project(&t, "delta");
    let s = t.serve();
    let (b, admin_id) = signed_in(
        &t,
        &s,
        "ada@example.com",
        "delta",
        "admin",
        "delta-orders:read delta-reports:read",
    )
    .await;

    let form = b.page("/console/clients/new").await;
    for label in [
        "<label for=\"name\">Name</label>",
        "<label for=\"description\">Description</label>",
        "<label for=\"project\">Project</label>",
        "<label for=\"allowed_ips\">Allowed IP ranges</label>",
        "<label for=\"token_ttl_seconds\">Token lifetime</label>",
    ] {
        assert!(form.contains(label), "{label}");
    }
    assert!(form.contains("value=\"delta-orders:read\""));
    assert!(form.contains("value=\"delta-orders:write\""));
    assert!(form.contains("value=\"delta-reports:read\""));
    assert!(
        !form.contains("value=\"delta-reports:write\""),
        "a read-only API offers no write box"
    );
    assert!(form.contains(">read</label>") && form.contains(">write</label>"));
    let csrf = field(&form, "name=\"csrf\" value=\"");

    let res = b
        .post(
            "/console/clients",
            &[
                ("csrf", &csrf),
                ("name", "made-in-console"),
                ("description", "by a person"),
                ("project", "delta"),
                ("scope", "delta-orders:read"),
                ("allowed_ips", "127.0.0.1\n::1\n"),
                ("token_ttl_seconds", "600"),
            ],
        )
        .await;
    // POST → redirect → GET: the secret is not in the answer to the POST (a reload of the
    // page that shows it must never post again) nor in any URL.
    assert_eq!(res.status(), 303);
    let to = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        to.starts_with("/console/clients/") && to.ends_with("/secret"),
        "{to}"
    );
    let res = b.get(&to).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let html = res.text().await.unwrap();
    assert!(html.contains("This secret will not be shown again."));
    assert_eq!(html.matches(">Copy</button>").count(), 3);
    // The copy script is ours, embedded under its content hash; nothing inline.
    let script = html
        .split("<script src=\"")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .find(|s| s.starts_with("/console/assets/console."))
        .expect("the console's script")
        .to_owned();
    assert!(script.ends_with(".js"));
    assert!(!html.contains("<script>"));
    let js = b.get(&script).await;
    assert_eq!(js.status(), 200);
    assert!(js.text().await.unwrap().contains("clipboard"));
    assert!(!html.contains("<script>") && !html.contains("onclick"));
    let id = shown(&html, "created-client-id");
    let secret = shown(&html, "created-client-secret");
    assert_eq!(shown(&html, "created-token-url"), s.url("/oauth2/token"));
    assert!(secret.starts_with("tsk_"), "{secret}");
    assert!(!to.contains(&secret));
    // Shown once: a reload finds nothing and goes to the client's page, which does not hold
    // it either.
    let again = b.get(&to).await;
    assert_eq!(again.status(), 303);
    let page = b.page(again.headers()["location"].to_str().unwrap()).await;
    assert!(!page.contains(&secret));
    assert!(page.contains("shown once and is no longer available"));

    // The secret works, for the scope granted.
    let token = s.token(&id, &secret, &[]).await;
    assert_eq!(token["scope"], "delta-orders:read");
    assert_eq!(token["expires_in"], 600);
    // The person owns it.
    let client = t.cli_json(&["clients", "get", &id]);
    assert_eq!(
        client["owner"],
        serde_json::json!({"type": "administrator", "id": admin_id})
    );
    assert_eq!(client["project"], "delta");
    assert_eq!(client["description"], "by a person");
    assert_eq!(
        client["allowed_ips"],
        serde_json::json!(["127.0.0.1/32", "::1/128"])
    );
    // Listed afterwards, without its secret; nowhere in the log.
    let table = b.page("/console/clients").await;
    assert!(table.contains(&id) && !table.contains(&secret));
    assert!(!b.page("/console/clients/new").await.contains(&secret));
    assert!(!s.log().contains(&secret));
}

#[tokio::test]
async fn refused_creations_name_the_problem_and_create_nothing() {
    let t = Tessera::new();
    project(&t, "omega");
    let s = t.serve();
    let (b, _) = signed_in(
        &t,
        &s,
        "ada@example.com",
        "omega",
        "admin",
        "omega-orders:read",
    )
    .await;
    let csrf = b.csrf("/console/clients/new").await;
    let before = client_ids(&t, "omega");
    assert!(before.is_empty());

    // Beyond the ceiling: refused, the scope named, the form kept.
    let res = b
        .post(
            "/console/clients",
            &[
                ("csrf", &csrf),
                ("name", "too-much"),
                ("project", "omega"),
                ("scope", "omega-orders:read"),
                ("scope", "omega-orders:write"),
            ],
        )
        .await;
    assert_eq!(res.status(), 403);
    let html = res.text().await.unwrap();
    assert!(alerts(&html).contains("omega-orders:write"), "{html}");
    assert!(html.contains("value=\"too-much\""));
    assert!(!html.contains("created-client-secret"));

    // Every bad IP line named.
    let res = b
        .post(
            "/console/clients",
            &[
                ("csrf", &csrf),
                ("name", "bad-ips"),
                ("scope", "omega-orders:read"),
                ("allowed_ips", "10.0.0.0/8\nnot-an-ip\n300.1.1.1\n"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    let said = alerts(&html);
    assert!(said.contains("Allowed IP ranges:"), "{said}");
    assert!(
        said.contains("not-an-ip") && said.contains("300.1.1.1") && !said.contains("10.0.0.0"),
        "{said}"
    );

    // Missing name, bad lifetime: each field named.
    let res = b
        .post("/console/clients", &[("csrf", &csrf), ("name", "")])
        .await;
    assert_eq!(res.status(), 422);
    assert!(alerts(&res.text().await.unwrap()).contains("Name:"));
    let res = b
        .post(
            "/console/clients",
            &[
                ("csrf", &csrf),
                ("name", "x"),
                ("token_ttl_seconds", "soon"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(alerts(&res.text().await.unwrap()).contains("Token lifetime:"));

    // No CSRF token, or another one: 403.
    for form in [
        vec![("name", "no-csrf"), ("scope", "omega-orders:read")],
        vec![
            ("csrf", "forged"),
            ("name", "no-csrf"),
            ("scope", "omega-orders:read"),
        ],
    ] {
        let res = b.post("/console/clients", &form).await;
        assert_eq!(res.status(), 403);
    }
    // Another origin, with the right token: 403.
    let res = b
        .http
        .post(format!("{}/console/clients", b.base))
        .header("Sec-Fetch-Site", "cross-site")
        .form(&[("csrf", csrf.as_str()), ("name", "cross")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    assert_eq!(client_ids(&t, "omega"), before, "nothing was created");
    // A project the person has no role in is not theirs to create in.
    t.cli_json(&["projects", "create", "other"]);
    let res = b
        .post(
            "/console/clients",
            &[("csrf", &csrf), ("name", "elsewhere"), ("project", "other")],
        )
        .await;
    assert!(
        res.status() == 404 || res.status() == 403,
        "{}",
        res.status()
    );
    assert!(client_ids(&t, "other").is_empty());
}

#[tokio::test]
async fn the_project_switcher_narrows_the_pages_to_one_project() {
    let t = Tessera::new();
    project(&t, "alpha");
    project(&t, "beta");
    project(&t, "gamma");
    cli_client(&t, "alpha", "in-alpha");
    cli_client(&t, "beta", "in-beta");
    cli_client(&t, "gamma", "in-gamma");
    let s = t.serve();
    let (b, _) = signed_in(&t, &s, "ada@example.com", "alpha", "admin", "").await;
    t.cli_json(&[
        "admins",
        "grant",
        "ada@example.com",
        "--project",
        "beta",
        "--role",
        "viewer",
    ]);

    // Two projects: a switcher listing exactly those, "All projects" chosen.
    let html = b.page("/console/clients").await;
    assert!(html.contains("<label for=\"switch-project\">Switch project</label>"));
    assert!(html.contains("<option value=\"\" selected>All projects</option>"));
    assert!(html.contains("<option value=\"alpha\">alpha</option>"));
    assert!(html.contains("<option value=\"beta\">beta</option>"));
    assert!(!html.contains("gamma"));
    let mut shown = names(&html);
    shown.sort();
    assert_eq!(shown, ["in-alpha", "in-beta"]);
    let csrf = field(&html, "name=\"csrf\" value=\"");

    // Choose beta: back to the section's list, narrowed to beta.
    let res = b
        .post(
            "/console/project",
            &[
                ("csrf", &csrf),
                ("project", "beta"),
                ("back", "/console/clients"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/console/clients");
    let html = b.page("/console/clients").await;
    assert_eq!(names(&html), ["in-beta"]);
    assert!(html.contains("<option value=\"beta\" selected>beta</option>"));
    // A viewer in beta: nothing to create there.
    assert!(!html.contains(">Create client</a>"));

    // A project they do not see: refused, the choice unchanged; `back` never leaves the
    // console's sections.
    let res = b
        .post(
            "/console/project",
            &[
                ("csrf", &csrf),
                ("project", "gamma"),
                ("back", "/console/clients"),
            ],
        )
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(names(&b.page("/console/clients").await), ["in-beta"]);
    let res = b
        .post(
            "/console/project",
            &[
                ("csrf", &csrf),
                ("project", ""),
                ("back", "https://evil.example/"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/console/clients");
    assert_eq!(names(&b.page("/console/clients").await).len(), 2);
    // Without the session's token: refused.
    let res = b
        .post(
            "/console/project",
            &[("project", "beta"), ("back", "/console/clients")],
        )
        .await;
    assert_eq!(res.status(), 403);
}
