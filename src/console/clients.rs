//! The Clients pages (SPEC §8, issue #14): the table (search, status filter, sort, pages) and
//! Create client, whose result page shows the new secret once. Every handler loads the
//! administrator as they are now and calls the same domain operations as the admin API.

use std::collections::BTreeSet;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::fields::{FieldErrors, Posted};
use super::layout::{Acting, Nav, Section, when};
use super::{ConsoleError, css, render};
use crate::ops::{self, Ops, OpsError};
use crate::state::AppState;
use crate::store::ClientFields;
use crate::store::client_auth::{AuthFields, AuthSettings, TokenEndpointAuthMethod};
use crate::store::clients::{ClientQuery, ClientSort};

/// Rows of the Clients table per page.
pub const PAGE_SIZE: u64 = 50;

/// The highest page number asked for that is taken as such (offsets must fit the database's
/// signed 64-bit integers; a stale or silly one shows the last page).
const MAX_PAGE: u64 = 1_000_000_000;

/// `?q=&status=&sort=&order=&page=`; anything unknown falls back to the default.
#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    order: String,
    #[serde(default)]
    page: Option<String>,
    /// Set after Delete client.
    #[serde(default)]
    deleted: Option<String>,
}

struct Header {
    label: &'static str,
    href: String,
    aria_sort: Option<&'static str>,
}

struct Row {
    name: String,
    client_id: String,
    created: String,
    last_used: String,
    status: &'static str,
}

#[derive(Template)]
#[template(path = "console/clients.html")]
struct ClientsPage<'a> {
    css: &'a str,
    nav: Nav,
    /// Why nothing can be shown.
    notice: Option<String>,
    /// What the last change did.
    done: Option<&'static str>,
    q: String,
    status: String,
    sort: &'static str,
    order: &'static str,
    headers: Vec<Header>,
    rows: Vec<Row>,
    total: u64,
    page: u64,
    pages: u64,
    prev: Option<String>,
    next: Option<String>,
}

const COLUMNS: [(&str, &str, ClientSort); 5] = [
    ("Name", "name", ClientSort::Name),
    ("Client ID", "client_id", ClientSort::ClientId),
    ("Created", "created", ClientSort::Created),
    ("Last redeemed", "last_used", ClientSort::LastUsed),
    ("Status", "status", ClientSort::Status),
];

/// A link to the table with these parameters (only the set ones).
fn link(q: &str, status: &str, sort: &str, order: &str, page: u64) -> String {
    let mut url = url::form_urlencoded::Serializer::new(String::new());
    if !q.is_empty() {
        url.append_pair("q", q);
    }
    if !status.is_empty() {
        url.append_pair("status", status);
    }
    url.append_pair("sort", sort);
    url.append_pair("order", order);
    if page > 1 {
        url.append_pair("page", &page.to_string());
    }
    format!("/console/clients?{}", url.finish())
}

/// `GET /console/clients`: the Clients table.
pub async fn list(
    state: web::Data<AppState>,
    acting: Acting,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let q = query.q.trim().chars().take(200).collect::<String>();
    let (status, enabled) = match query.status.as_str() {
        "enabled" => ("enabled", Some(true)),
        "disabled" => ("disabled", Some(false)),
        _ => ("", None),
    };
    let (sort_key, sort) = COLUMNS
        .iter()
        .find(|(_, key, _)| *key == query.sort)
        .map_or(("name", ClientSort::Name), |(_, key, s)| (*key, *s));
    let descending = query.order == "desc";
    let order = if descending { "desc" } else { "asc" };
    let mut page = query
        .page
        .as_deref()
        .and_then(|p| p.parse::<u64>().ok())
        .unwrap_or(1)
        .clamp(1, MAX_PAGE);
    let wanted = ClientQuery {
        text: (!q.is_empty()).then(|| q.clone()),
        enabled,
        sort,
        descending,
        offset: (page - 1) * PAGE_SIZE,
        limit: PAGE_SIZE,
    };
    let ops = Ops::of(&state);
    let project = acting.project.as_deref();
    let mut wanted = wanted;
    let mut found = ops::clients::search(&ops, &acting.ctx, project, &wanted).await;
    // Past the last page (a stale link): show the last page instead.
    if let Ok((rows, total)) = &found
        && rows.is_empty()
        && *total > 0
        && wanted.offset >= *total
    {
        page = total.div_ceil(PAGE_SIZE);
        wanted.offset = (page - 1) * PAGE_SIZE;
        found = ops::clients::search(&ops, &acting.ctx, project, &wanted).await;
    }
    let (status_code, notice, (clients, total)) = match found {
        Ok(found) => (StatusCode::OK, None, found),
        // No role in any project: the page, with the reason, and nothing in it.
        Err(OpsError::Forbidden(message)) => {
            (StatusCode::FORBIDDEN, Some(message), (Vec::new(), 0))
        }
        Err(e) => return Err(e.into()),
    };
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    let headers = COLUMNS
        .iter()
        .map(|(label, key, _)| {
            let current = *key == sort_key;
            let next_order = if current && !descending {
                "desc"
            } else {
                "asc"
            };
            Header {
                label,
                href: link(&q, status, key, next_order, 1),
                aria_sort: current.then_some(if descending {
                    "descending"
                } else {
                    "ascending"
                }),
            }
        })
        .collect();
    let rows = clients
        .into_iter()
        .map(|c| Row {
            name: c.name,
            client_id: c.client_id,
            created: when(c.created_at),
            last_used: c.last_used_at.map_or_else(|| "Never".to_owned(), when),
            status: if c.enabled { "Enabled" } else { "Disabled" },
        })
        .collect();
    Ok(render(
        status_code,
        &ClientsPage {
            css: css(),
            nav: acting.nav(Section::Clients),
            notice,
            done: query
                .deleted
                .is_some()
                .then_some("The client was deleted; its tokens are no longer active."),
            prev: (page > 1).then(|| link(&q, status, sort_key, order, page - 1)),
            next: (page < pages).then(|| link(&q, status, sort_key, order, page + 1)),
            q,
            status: status.to_owned(),
            sort: sort_key,
            order,
            headers,
            rows,
            total,
            page,
            pages,
        },
    ))
}

/// One row of the permissions grid.
pub(super) struct ApiRow {
    pub name: String,
    pub read: bool,
    pub write: bool,
    pub read_checked: bool,
    pub write_checked: bool,
}

/// One role that may be assigned, with what it grants.
pub(super) struct RoleRow {
    pub name: String,
    pub scopes: String,
    pub checked: bool,
}

/// The fields of a client form, as errors name them.
pub(super) const CLIENT_FIELDS: &[&str] = &[
    "name",
    "description",
    "project",
    "scopes",
    "roles",
    "allowed_ips",
    "token_ttl_seconds",
    "token_endpoint_auth_method",
    "jwks",
    "jwks_uri",
    "token_endpoint_auth_signing_alg",
    "tls_client_auth_subject_dn",
    "tls_client_auth_san_dns",
    "tls_client_auth_san_uri",
    "tls_client_auth_san_ip",
    "tls_client_auth_san_email",
];

/// The authentication methods a client form offers, with what a person reads.
pub const AUTH_METHODS: &[(&str, &str)] = &[
    ("client_secret_basic", "Client secret"),
    ("private_key_jwt", "Private key JWT (signed assertion)"),
    ("tls_client_auth", "Mutual TLS, CA-issued certificate"),
    (
        "self_signed_tls_client_auth",
        "Mutual TLS, self-signed certificate",
    ),
];

/// The assertion algorithms a client form offers (besides the default).
pub const SIGNING_ALGS: &[&str] = &["ES256", "ES384", "EdDSA", "PS256", "RS256"];

/// What a CA-issued client certificate may be matched on: the field and what a person reads.
pub const TLS_SUBJECT_KINDS: &[(&str, &str)] = &[
    ("tls_client_auth_subject_dn", "Subject DN"),
    ("tls_client_auth_san_dns", "DNS name"),
    ("tls_client_auth_san_uri", "URI"),
    ("tls_client_auth_san_ip", "IP address"),
    ("tls_client_auth_san_email", "Email address"),
];

/// The label of an authentication method.
pub fn auth_method_label(method: TokenEndpointAuthMethod) -> &'static str {
    AUTH_METHODS
        .iter()
        .find(|(value, _)| *value == method.as_str())
        .map_or("Client secret", |(_, label)| label)
}

#[derive(Template)]
#[template(path = "console/client_new.html")]
struct NewClientPage<'a> {
    css: &'a str,
    nav: Nav,
    errors: FieldErrors,
    projects: Vec<String>,
    project: String,
    apis: Vec<ApiRow>,
    other: Vec<String>,
    roles: Vec<RoleRow>,
    entered: Entered,
}

/// What the form held, to show it again after a refusal.
#[derive(Default)]
pub(super) struct Entered {
    pub project: Option<String>,
    pub name: String,
    pub description: String,
    pub scopes: BTreeSet<String>,
    pub roles: BTreeSet<String>,
    pub allowed_ips: String,
    pub token_ttl: String,
    /// `token_endpoint_auth_method` as posted.
    pub auth_method: String,
    /// The JWK set, as text.
    pub jwks: String,
    pub jwks_uri: String,
    /// Empty for the default.
    pub signing_alg: String,
    /// Which `tls_client_auth_*` field the certificate value is.
    pub tls_kind: String,
    pub tls_value: String,
    pub dpop: bool,
}

impl Entered {
    /// The authentication of a stored client, as its form shows it.
    pub(super) fn with_auth(mut self, auth: &AuthFields) -> Self {
        let s = &auth.settings;
        self.auth_method = auth.method.as_str().to_owned();
        self.jwks = s
            .jwks
            .as_ref()
            .and_then(|j| serde_json::to_string_pretty(j).ok())
            .unwrap_or_default();
        self.jwks_uri = s.jwks_uri.clone().unwrap_or_default();
        self.signing_alg = s
            .token_endpoint_auth_signing_alg
            .map(|a| a.as_str().to_owned())
            .unwrap_or_default();
        let tls = [
            ("tls_client_auth_subject_dn", &s.tls_client_auth_subject_dn),
            ("tls_client_auth_san_dns", &s.tls_client_auth_san_dns),
            ("tls_client_auth_san_uri", &s.tls_client_auth_san_uri),
            ("tls_client_auth_san_ip", &s.tls_client_auth_san_ip),
            ("tls_client_auth_san_email", &s.tls_client_auth_san_email),
        ];
        if let Some((kind, Some(value))) = tls.iter().find(|(_, v)| v.is_some()) {
            self.tls_kind = (*kind).to_owned();
            self.tls_value = value.clone();
        }
        self.dpop = auth.dpop_bound_access_tokens;
        self
    }

    /// The error about the certificate value, whichever `tls_client_auth_*` field it names.
    pub fn tls_error<'e>(&self, errors: &'e FieldErrors) -> Option<&'e str> {
        TLS_SUBJECT_KINDS
            .iter()
            .find_map(|(field, _)| errors.get(field))
    }

    /// The authentication the form asks for, or the errors of what does not even parse.
    fn auth(&self, errors: &mut FieldErrors) -> Option<AuthFields> {
        let method = match self.auth_method.as_str() {
            "" => TokenEndpointAuthMethod::default(),
            m => match m.parse() {
                Ok(m) => m,
                Err(e) => {
                    errors.add("token_endpoint_auth_method", e);
                    return None;
                }
            },
        };
        let mut settings = AuthSettings::default();
        let jwks = self.jwks.trim();
        if !jwks.is_empty() {
            match serde_json::from_str(jwks) {
                Ok(v) => settings.jwks = Some(v),
                Err(e) => errors.add("jwks", format!("is not JSON: {e}")),
            }
        }
        let jwks_uri = self.jwks_uri.trim();
        settings.jwks_uri = (!jwks_uri.is_empty()).then(|| jwks_uri.to_owned());
        if !self.signing_alg.is_empty() {
            match self.signing_alg.parse() {
                Ok(a) => settings.token_endpoint_auth_signing_alg = Some(a),
                Err(e) => errors.add("token_endpoint_auth_signing_alg", e),
            }
        }
        let value = self.tls_value.trim();
        if !value.is_empty() {
            let value = Some(value.to_owned());
            match self.tls_kind.as_str() {
                "tls_client_auth_san_dns" => settings.tls_client_auth_san_dns = value,
                "tls_client_auth_san_uri" => settings.tls_client_auth_san_uri = value,
                "tls_client_auth_san_ip" => settings.tls_client_auth_san_ip = value,
                "tls_client_auth_san_email" => settings.tls_client_auth_san_email = value,
                _ => settings.tls_client_auth_subject_dn = value,
            }
        }
        Some(AuthFields {
            method,
            settings,
            dpop_bound_access_tokens: self.dpop,
        })
    }

    /// What a client form posted (`csrf` aside).
    pub(super) fn from_form(form: &Posted) -> Self {
        Entered {
            project: Some(form.one("project")).filter(|p| !p.is_empty()),
            name: form.one("name"),
            description: form.one("description"),
            scopes: form.all("scope").into_iter().collect(),
            roles: form.all("role").into_iter().collect(),
            allowed_ips: form.one("allowed_ips"),
            token_ttl: form.one("token_ttl_seconds").trim().to_owned(),
            auth_method: form.one("token_endpoint_auth_method"),
            jwks: form.one("jwks"),
            jwks_uri: form.one("jwks_uri"),
            signing_alg: form.one("token_endpoint_auth_signing_alg"),
            tls_kind: form.one("tls_subject_kind"),
            tls_value: form.one("tls_subject"),
            dpop: form.one("dpop_bound_access_tokens") == "true",
        }
    }

    /// The fields as the operation takes them, or the errors of what does not even parse.
    pub(super) fn fields(&self, enabled: bool) -> Result<ClientFields, FieldErrors> {
        let mut errors = FieldErrors::default();
        let token_ttl_seconds = if self.token_ttl.is_empty() {
            None
        } else {
            match self.token_ttl.parse::<u32>() {
                Ok(t) => Some(t),
                Err(_) => {
                    errors.add(
                        "token_ttl_seconds",
                        "must be a whole number of seconds".into(),
                    );
                    None
                }
            }
        };
        let allowed_ips: Vec<String> = self
            .allowed_ips
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        let auth = self.auth(&mut errors);
        if !errors.is_empty() {
            // The operation will not see this form: name what else it would have named.
            if let Some(bad) = crate::store::clients::bad_ip_ranges(&allowed_ips) {
                errors.add("allowed_ips", bad);
            }
            return Err(errors);
        }
        Ok(ClientFields {
            name: self.name.clone(),
            description: self.description.clone(),
            enabled,
            scopes: self.scopes.iter().cloned().collect(),
            roles: self.roles.iter().cloned().collect(),
            allowed_ips,
            token_ttl_seconds,
            auth,
        })
    }
}

/// What a client form offers to grant in `project`, checked as `entered` says.
pub(super) struct Grants {
    /// The permissions grid.
    pub apis: Vec<ApiRow>,
    /// Scopes held without a box in the grid (kept as boxes of their own, so saving never
    /// drops them unseen).
    pub other: Vec<String>,
    pub roles: Vec<RoleRow>,
}

/// The permissions grid and the roles of `project`, checked as `entered` says.
pub(super) async fn grants(
    state: &AppState,
    acting: &Acting,
    project: &str,
    entered: &Entered,
) -> Result<Grants, ConsoleError> {
    let (apis, other) = super::catalog::grid(state, acting, project, &entered.scopes).await?;
    let roles = ops::catalog::roles(&Ops::of(state), &acting.ctx, Some(project))
        .await?
        .into_iter()
        .map(|r| RoleRow {
            checked: entered.roles.contains(&r.name),
            scopes: r.scopes.join(", "),
            name: r.name,
        })
        .collect();
    Ok(Grants { apis, other, roles })
}

/// The Create client form for `entered`, with `status` and errors.
async fn new_form(
    state: &AppState,
    acting: &Acting,
    entered: Entered,
    status: StatusCode,
    errors: FieldErrors,
) -> Result<HttpResponse, ConsoleError> {
    // The projects where the person may create clients (the operation still decides).
    let projects: Vec<String> = acting
        .projects
        .iter()
        .filter(|p| acting.manages(p))
        .cloned()
        .collect();
    if projects.is_empty() {
        return Err(ConsoleError::Refused(
            "You may not create clients in any project.".into(),
        ));
    }
    // The project asked for, else the one chosen in the switcher, else `default`, else the
    // first the person manages.
    let project = [
        entered.project.clone(),
        acting.project.clone(),
        Some(crate::store::projects::DEFAULT.to_owned()),
    ]
    .into_iter()
    .flatten()
    .find(|p| projects.contains(p))
    .unwrap_or_else(|| projects[0].clone());
    let Grants { apis, other, roles } = grants(state, acting, &project, &entered).await?;
    Ok(render(
        status,
        &NewClientPage {
            css: css(),
            nav: acting.nav(Section::Clients),
            errors,
            projects,
            project,
            apis,
            other,
            roles,
            entered,
        },
    ))
}

/// `?project=` to show the permissions of another of the person's projects.
#[derive(Deserialize)]
pub struct NewQuery {
    project: Option<String>,
}

/// `GET /console/clients/new`.
pub async fn new(
    state: web::Data<AppState>,
    acting: Acting,
    query: web::Query<NewQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let entered = Entered {
        project: query.into_inner().project,
        auth_method: TokenEndpointAuthMethod::default().as_str().to_owned(),
        ..Entered::default()
    };
    new_form(
        &state,
        &acting,
        entered,
        StatusCode::OK,
        FieldErrors::default(),
    )
    .await
}

/// `POST /console/clients`: creates the client and answers with its secret, once. The
/// answer to a POST is not fetched again by a GET, so reloading never shows it.
pub async fn create(
    state: web::Data<AppState>,
    acting: Acting,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, ConsoleError> {
    let form = Posted(form.into_inner());
    // Nothing is read or changed for a form without this session's token.
    acting.check_csrf(&form.one("csrf"))?;
    let entered = Entered::from_form(&form);
    let fields = match entered.fields(true) {
        Ok(f) => f,
        Err(errors) => {
            return new_form(
                &state,
                &acting,
                entered,
                StatusCode::UNPROCESSABLE_ENTITY,
                errors,
            )
            .await;
        }
    };
    let ops = Ops::of(&state);
    match ops::clients::create(&ops, &acting.ctx, entered.project.clone(), fields).await {
        Ok((client, Some(secret))) => {
            super::client::reveal_created(&state, &acting, &client.client_id, &secret).await
        }
        // A client without a secret has nothing to show once: its page is next.
        Ok((client, None)) => {
            Ok(super::see_other(&format!("/console/clients/{}", client.client_id)).finish())
        }
        Err(e) => {
            let (status, errors) = FieldErrors::of(e, CLIENT_FIELDS)?;
            new_form(&state, &acting, entered, status, errors).await
        }
    }
}
