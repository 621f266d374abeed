//! The rules administrators act under (SPEC §7), checked at the domain-operations layer that
//! the admin API, the command line and the console all call: a real database (SQLite, or
//! PostgreSQL when the suite runs on it), real operations, no HTTP. The console's own tests
//! drive the same rules through a browser; these pin the ones a person could otherwise abuse.

mod common;

use tessera::config::Settings;
use tessera::ops::{self, Context, Ops, OpsError};
use tessera::store::administrators::{
    AdministratorChange, Membership, NewAdministrator, ProjectRole,
};
use tessera::store::audit::Actor;
use tessera::store::{self, ClientFields, NewApi};

struct World {
    _t: common::Tessera,
    db: sea_orm::DatabaseConnection,
    settings: Settings,
}

async fn world() -> World {
    let t = common::Tessera::new();
    let url = t
        .env
        .iter()
        .find(|(k, _)| k == "TESSERA__DATABASE__URL")
        .map(|(_, v)| v.clone())
        .expect("database url");
    let config = t.path().join("tessera.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = {url:?}\n[keys]\ndir = {:?}\n",
            t.path().join("keys").display().to_string()
        ),
    )
    .expect("config");
    let settings = Settings::load(Some(&config)).expect("settings");
    let db = store::connect(&url).await.expect("connect");
    store::migrate(&db).await.expect("migrate");
    store::apis::ensure_admin(&db, "http://127.0.0.1:1", false)
        .await
        .expect("admin API");
    World {
        _t: t,
        db,
        settings,
    }
}

fn fields(name: &str, scopes: &[&str]) -> ClientFields {
    ClientFields {
        name: name.into(),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        ..ClientFields::default()
    }
}

fn forbidden(r: Result<impl std::fmt::Debug, OpsError>, what: &str) -> String {
    match r {
        Err(OpsError::Forbidden(why)) => why,
        other => panic!("{what}: expected 403, got {other:?}"),
    }
}

#[tokio::test]
async fn people_cannot_reach_beyond_their_ceiling_through_any_operation() {
    let w = world().await;
    let ops = Ops::offline(&w.db, &w.settings);
    let cli = Context::cli();
    ops::people::create_project(&ops, &cli, "orders", "", "")
        .await
        .expect("project");
    for (name, perms) in [("orders", "read,write")] {
        ops::catalog::create_api(
            &ops,
            &cli,
            NewApi {
                name: name.into(),
                audience: format!("https://api.example.com/{name}"),
                permissions: perms.split(',').map(str::to_owned).collect(),
                project: "orders".into(),
                shared: false,
            },
        )
        .await
        .expect("api");
    }
    let person = |email: &str, role: ProjectRole, scopes: Option<&[&str]>| NewAdministrator {
        email: email.into(),
        display_name: String::new(),
        superadmin: false,
        memberships: vec![Membership {
            project: "orders".into(),
            role,
            scopes: scopes.map(|s| s.iter().map(|x| (*x).to_owned()).collect()),
        }],
    };
    let (low, _) = ops::people::create_administrator(
        &ops,
        &cli,
        person(
            "low@example.com",
            ProjectRole::Admin,
            Some(&["orders:read"]),
        ),
    )
    .await
    .expect("low");
    let (owner, _) = ops::people::create_administrator(
        &ops,
        &cli,
        person(
            "owner@example.com",
            ProjectRole::Owner,
            Some(&["orders:read"]),
        ),
    )
    .await
    .expect("owner");
    let (high, _) = ops::people::create_administrator(
        &ops,
        &cli,
        person("high@example.com", ProjectRole::Admin, None),
    )
    .await
    .expect("high");
    let as_person = |a: &tessera::store::administrators::Administrator| {
        Context::administrator(a.clone(), Actor::Administrator(a.id.clone()))
    };
    let low_ctx = as_person(&low);

    // A root client of the project and a client of a higher-ceiling colleague.
    let (root, _) = ops::clients::create(
        &ops,
        &cli,
        Some("orders".into()),
        fields("root", &["admin:write", "orders:write"]),
    )
    .await
    .expect("root client");
    let (strong, _) = ops::clients::create(
        &ops,
        &as_person(&high),
        Some("orders".into()),
        fields("strong", &["orders:write"]),
    )
    .await
    .expect("high's client");
    let (mine, _) = ops::clients::create(
        &ops,
        &low_ctx,
        Some("orders".into()),
        fields("mine", &["orders:read"]),
    )
    .await
    .expect("low's own client");

    // 1. No secret of a stronger client, no change to it, no deleting it.
    for target in [&root.client_id, &strong.client_id] {
        let why = forbidden(
            ops::clients::reset_secret(&ops, &low_ctx, target).await,
            "reset a stronger client's secret",
        );
        assert!(
            why.contains("orders:write") || why.contains("root"),
            "{why}"
        );
        forbidden(
            ops::clients::add_secret(&ops, &low_ctx, target, None).await,
            "add a secret to a stronger client",
        );
        forbidden(
            ops::clients::delete(&ops, &low_ctx, target).await,
            "delete a stronger client",
        );
    }
    // Reading is fine; its own client it manages.
    ops::clients::get(&ops, &low_ctx, &strong.client_id)
        .await
        .expect("read");
    ops::clients::reset_secret(&ops, &low_ctx, &mine.client_id)
        .await
        .expect("own client");

    // 2. Granting beyond the ceiling: directly, by PUT, through a role, or by editing a role.
    forbidden(
        ops::clients::replace(
            &ops,
            &low_ctx,
            &mine.client_id,
            fields("mine", &["orders:read", "orders:write"]),
        )
        .await,
        "PUT beyond the ceiling",
    );
    forbidden(
        ops::catalog::create_role(
            &ops,
            &low_ctx,
            Some("orders"),
            "w",
            "",
            &["orders:write".into()],
        )
        .await,
        "a role beyond the ceiling",
    );
    ops::catalog::create_role(&ops, &cli, Some("orders"), "r", "", &["orders:read".into()])
        .await
        .expect("role r");
    forbidden(
        ops::catalog::replace_role(
            &ops,
            &low_ctx,
            Some("orders"),
            "r",
            "",
            &["orders:read".into(), "orders:write".into()],
        )
        .await,
        "widening a role beyond the ceiling",
    );
    forbidden(
        ops::clients::create(
            &ops,
            &low_ctx,
            Some("orders".into()),
            fields("admin", &["admin:read"]),
        )
        .await,
        "admin:* by a non-owner",
    );

    // 3. An owner neither lifts their own ceiling nor hands out more than they hold.
    let owner_ctx = as_person(&owner);
    let lift = AdministratorChange {
        memberships: Some(vec![Membership {
            project: "orders".into(),
            role: ProjectRole::Owner,
            scopes: None,
        }]),
        ..Default::default()
    };
    forbidden(
        ops::people::update_administrator(&ops, &owner_ctx, &owner.id, lift.clone()).await,
        "an owner lifting their own ceiling",
    );
    forbidden(
        ops::people::update_administrator(&ops, &owner_ctx, &low.id, lift).await,
        "an owner giving more than they hold",
    );
    let within = AdministratorChange {
        memberships: Some(vec![Membership {
            project: "orders".into(),
            role: ProjectRole::Viewer,
            scopes: Some(vec!["orders:read".into()]),
        }]),
        ..Default::default()
    };
    let demoted = ops::people::update_administrator(&ops, &owner_ctx, &low.id, within)
        .await
        .expect("an owner may demote within their own ceiling");
    assert_eq!(demoted.memberships[0].role, ProjectRole::Viewer);
    // Demoted to viewer: their client is disabled, and they manage nothing any more.
    let after = store::clients::get(&w.db, &mine.client_id)
        .await
        .expect("get");
    assert!(!after.enabled, "a viewer's clients are disabled");

    // 4. A root client is not transferred.
    let r = ops::people::transfer(&ops, &cli, &root.client_id, &high.id).await;
    assert!(matches!(r, Err(OpsError::Conflict(_))), "{r:?}");
}
