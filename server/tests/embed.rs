//! Console embed links for partner portals, end to end against the demo server: minting (server
//! function with the admin's session, and `POST /api/v1/embed-links` with an admin API token),
//! the embed page's headers, opening the console without a cookie, origin checks, expiry,
//! revocation, single use, view-only input dropping, and the recorded uses.
//!
//! Run: `cargo test -p server --test embed`

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{TestServer, Viewer, Vm, error_kind, start};

const PARTNER: &str = "http://partner.localhost:4000";

/// Mints a link through the server function; answers `(id, token)`.
async fn mint(
    server: &TestServer,
    admin: &str,
    vm: &Vm,
    ttl: u64,
    single_use: bool,
    view_only: bool,
) -> (i64, String) {
    let (vmid, ttl) = (vm.vmid.to_string(), ttl.to_string());
    let (status, link) = server
        .call(
            Some(admin),
            "embed_links_create",
            &[
                ("cluster", &vm.cluster),
                ("node", &vm.node),
                ("vmid", &vmid),
                ("origin", PARTNER),
                ("ttl_secs", &ttl),
                ("single_use", if single_use { "true" } else { "false" }),
                ("view_only", if view_only { "true" } else { "false" }),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{link}");
    let url = link["url"].as_str().unwrap();
    let token = url
        .strip_prefix("/embed/console?token=")
        .expect(url)
        .to_owned();
    (link["id"].as_i64().unwrap(), token)
}

/// The embed page's `embed_console` as the iframe calls it (our origin, no cookie).
async fn embed_console(server: &TestServer, token: &str) -> (StatusCode, Value) {
    let origin = server.origin();
    server
        .call_with(
            None,
            &[("origin", &origin)],
            "console_embed",
            &[("token", token)],
        )
        .await
}

/// The console WebSocket for `token` from `origin`, without a cookie.
async fn open(server: &TestServer, token: &str, origin: &str) -> Result<Viewer, (u16, String)> {
    let ws = server
        .ws(
            &format!("/api/console/ws?embed={token}"),
            &[("origin", origin)],
        )
        .await?;
    Ok(Viewer::handshake(ws).await.0)
}

/// Revokes link `id` through the server function.
async fn revoke(server: &TestServer, admin: &str, id: i64) {
    let (status, body) = server
        .call(
            Some(admin),
            "embed_links_revoke",
            &[("id", &id.to_string())],
        )
        .await;
    assert!(status.is_success(), "{body}");
}

async fn uses(server: &TestServer, id: i64) -> Vec<(String, String)> {
    app::embed::ssr::uses(&server.runtime.state.db, id)
        .await
        .unwrap()
        .into_iter()
        .map(|u| (u.action, u.result))
        .collect()
}

#[tokio::test]
async fn an_embed_link_opens_the_console_without_a_cookie() {
    let server = start().await;
    let admin = server.admin().await;
    let vm = server.vms(&admin, true).await.remove(0);
    let (id, token) = mint(&server, &admin, &vm, 600, false, false).await;

    let (status, ticket) = embed_console(&server, &token).await;
    assert_eq!(status, StatusCode::OK, "{ticket}");
    assert_eq!(ticket["vm_name"], vm.name);
    assert_eq!(ticket["view_only"], false);
    let path = ticket["ws_path"].as_str().unwrap();
    assert_eq!(path, format!("/api/console/ws?embed={token}"));

    // From the embed page (our origin inside the partner's frame) and from the partner itself.
    let ws = server
        .ws(path, &[("origin", &server.origin())])
        .await
        .unwrap();
    let (mut viewer, init) = Viewer::handshake(ws).await;
    assert_eq!(init.name, vm.name);
    viewer.request_update(false).await;
    assert_eq!(viewer.read_update().await.unwrap()[0].0, (0, 0, 640, 400));
    viewer.type_text("partner").await;
    server.wait_text(vm.vmid, "typed: partner").await;
    let mut partner = open(&server, &token, PARTNER).await.unwrap();
    partner.request_update(false).await;
    partner.read_update().await.unwrap();

    // Uses are recorded with the peer address.
    assert_eq!(
        uses(&server, id).await,
        [
            ("page".to_owned(), "ok".to_owned()),
            ("console".into(), "ok".into()),
            ("console".into(), "ok".into())
        ]
    );
    let records = app::embed::ssr::uses(&server.runtime.state.db, id)
        .await
        .unwrap();
    assert!(
        records[1]
            .remote_addr
            .as_deref()
            .unwrap()
            .starts_with("127.0.0.1:")
    );
    assert_eq!(records[2].origin.as_deref(), Some(PARTNER));
    let (_, list) = server.call(Some(&admin), "embed_links_list", &[]).await;
    assert_eq!(list[0]["id"], id);
    assert_eq!(list[0]["uses"], 3);
}

#[tokio::test]
async fn wrong_origins_forged_expired_and_revoked_tokens_are_refused() {
    let server = start().await;
    let admin = server.admin().await;
    let vm = server.vms(&admin, true).await.remove(0);
    let (id, token) = mint(&server, &admin, &vm, 600, false, false).await;

    let (status, body) = open(&server, &token, "https://evil.example")
        .await
        .err()
        .unwrap();
    assert_eq!(
        (status, body.trim()),
        (403, "embed link not valid for this origin")
    );
    // The page's server function: a foreign Origin is stopped by the cross-origin write check,
    // a foreign Referer by the link's origin check.
    let (status, _) = server
        .call_with(
            None,
            &[("origin", "https://evil.example")],
            "console_embed",
            &[("token", &token)],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, page) = server
        .call_with(
            None,
            &[("referer", "https://evil.example/portal")],
            "console_embed",
            &[("token", &token)],
        )
        .await;
    assert_eq!(error_kind(&page), "Forbidden", "{page}");

    // Forged: another link's claims with this signature, or garbage.
    let (payload, signature) = token.split_once('.').unwrap();
    let last = if payload.ends_with('A') { "B" } else { "A" };
    let forged = format!("{}{last}.{signature}", &payload[..payload.len() - 1]);
    assert_eq!(open(&server, &forged, PARTNER).await.err().unwrap().0, 403);
    assert_eq!(
        open(&server, "garbage", PARTNER).await.err().unwrap().0,
        403
    );
    let (_, page) = embed_console(&server, "garbage").await;
    assert_eq!(error_kind(&page), "Forbidden");

    // Revoked through the server function.
    revoke(&server, &admin, id).await;
    let (status, body) = open(&server, &token, PARTNER).await.err().unwrap();
    assert_eq!((status, body.trim()), (403, "embed link revoked"));

    // Expired.
    let (_, short) = mint(&server, &admin, &vm, 1, false, false).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, body) = open(&server, &short, PARTNER).await.err().unwrap();
    assert_eq!((status, body.trim()), (403, "embed link expired"));
    let (_, page) = embed_console(&server, &short).await;
    assert!(page.to_string().contains("expired"), "{page}");

    // Refusals are recorded too.
    let recorded = uses(&server, id).await;
    assert!(
        recorded.contains(&(
            "console".into(),
            "embed link not valid for this origin".into()
        )),
        "{recorded:?}"
    );
    assert!(recorded.contains(&("console".into(), "embed link revoked".into())));
}

#[tokio::test]
async fn a_single_use_link_opens_once() {
    let server = start().await;
    let admin = server.admin().await;
    let vm = server.vms(&admin, true).await.remove(0);
    let (id, token) = mint(&server, &admin, &vm, 600, true, false).await;
    assert_eq!(embed_console(&server, &token).await.0, StatusCode::OK);
    let _first = open(&server, &token, PARTNER).await.expect("first use");
    let (status, body) = open(&server, &token, PARTNER).await.err().unwrap();
    assert_eq!(
        (status, body.trim()),
        (403, "single-use embed link already used")
    );
    let recorded = uses(&server, id).await;
    assert_eq!(
        recorded.last().unwrap().1,
        "single-use embed link already used"
    );
}

#[tokio::test]
async fn a_view_only_link_drops_the_viewers_input() {
    let server = start().await;
    let admin = server.admin().await;
    let vm = server.vms(&admin, true).await.remove(0);
    let (_, token) = mint(&server, &admin, &vm, 600, false, true).await;
    let (_, ticket) = embed_console(&server, &token).await;
    assert_eq!(ticket["view_only"], true);

    let before = server.sim().console_text(vm.vmid).unwrap();
    let mut viewer = open(&server, &token, PARTNER).await.unwrap();
    viewer.type_text("should not appear").await;
    viewer.key(0xff0d).await;
    // Pointer and clipboard too, then an update request: once its answer is back, everything
    // before it has passed the relay.
    viewer.ws.send(&[5, 1, 0, 10, 0, 10]).await;
    viewer.ws.send(&[6, 0, 0, 0, 0, 0, 0, 2, b'h', b'i']).await;
    viewer.request_update(false).await;
    assert_eq!(viewer.read_update().await.unwrap()[0].0, (0, 0, 640, 400));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        server.sim().console_text(vm.vmid).unwrap(),
        before,
        "input dropped"
    );

    // A full-access link on the same VM still types.
    let (_, full) = mint(&server, &admin, &vm, 600, false, false).await;
    let mut typist = open(&server, &full, PARTNER).await.unwrap();
    typist.type_text("allowed").await;
    server.wait_text(vm.vmid, "typed: allowed").await;
    // An input message the filter cannot follow ends a view-only console with 1008.
    viewer.ws.send(&[77]).await;
    viewer.ws.expect_close(1008, Duration::from_secs(5)).await;
}

#[tokio::test]
async fn admins_mint_links_with_an_api_token_and_the_page_may_be_framed_by_the_partner() {
    let server = start().await;
    let admin = server.admin().await;
    let vm = server.vms(&admin, true).await.remove(0);
    let olga = server.user(&admin, "olga", "operator").await;

    // Only admins mint links or tokens.
    let (_, body) = server
        .call(Some(&olga), "api_tokens_create", &[("label", "x")])
        .await;
    assert_eq!(error_kind(&body), "Forbidden");
    let (status, token) = server
        .call(
            Some(&admin),
            "api_tokens_create",
            &[("label", "partner portal")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let api_token = token.as_str().unwrap().to_owned();

    let http = reqwest::Client::new();
    let url = format!("{}/api/v1/embed-links", server.base);
    let body = json!({
        "cluster": vm.cluster, "node": vm.node, "vmid": vm.vmid,
        "origin": PARTNER, "ttl_secs": 600, "view_only": true
    });
    let anonymous = http.post(&url).json(&body).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let wrong = http
        .post(&url)
        .bearer_auth("cecyber_nope")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let created = http
        .post(&url)
        .bearer_auth(&api_token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let link: Value = created.json().await.unwrap();
    let page_url = link["url"].as_str().unwrap().to_owned();
    let bad = http
        .post(&url)
        .bearer_auth(&api_token)
        .json(
            &json!({"cluster": vm.cluster, "node": vm.node, "vmid": 99999,
                      "origin": PARTNER, "ttl_secs": 600}),
        )
        .send()
        .await
        .unwrap();
    assert!(bad.status().is_client_error() || bad.status() == StatusCode::BAD_GATEWAY);
    let listed: Value = http
        .get(&url)
        .bearer_auth(&api_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["id"], link["id"]);
    assert_eq!(listed[0]["view_only"], true);

    // The embed page: framable by the partner only, and no login needed.
    let page = http
        .get(format!("{}{page_url}", server.base))
        .send()
        .await
        .unwrap();
    assert_ne!(
        page.status(),
        StatusCode::SEE_OTHER,
        "no redirect to the login page"
    );
    assert_eq!(
        page.headers()["content-security-policy"],
        format!("frame-ancestors {PARTNER}").as_str()
    );
    assert!(page.headers().get("x-frame-options").is_none());
    let forged = http
        .get(format!("{}/embed/console?token=forged", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        forged.headers()["content-security-policy"],
        "frame-ancestors 'none'"
    );
    let other = http
        .get(format!("{}/login", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(other.headers()["x-frame-options"], "DENY");

    // Revoked through the API.
    let id = link["id"].as_i64().unwrap();
    let revoked = http
        .delete(format!("{url}/{id}"))
        .bearer_auth(&api_token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let token = page_url.strip_prefix("/embed/console?token=").unwrap();
    assert_eq!(open(&server, token, PARTNER).await.err().unwrap().0, 403);
}

#[tokio::test]
async fn pve_refusing_the_console_or_a_stopped_vm_is_refused_before_the_upgrade() {
    let server = start().await;
    let admin = server.admin().await;
    let vm = server.vms(&admin, true).await.remove(0);
    let stopped = server.vms(&admin, false).await.remove(0);
    let (id, token) = mint(&server, &admin, &vm, 600, false, false).await;

    let vncproxy = format!("/nodes/{}/qemu/{}/vncproxy", vm.node, vm.vmid);
    server
        .sim()
        .set_faults(pve::sim::Faults {
            error_rates: [(vncproxy, 1.0)].into(),
            ..Default::default()
        })
        .unwrap();
    let (status, body) = open(&server, &token, PARTNER).await.err().unwrap();
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("Proxmox VE"), "{body}");
    assert!(
        uses(&server, id)
            .await
            .last()
            .unwrap()
            .1
            .contains("Proxmox VE")
    );
    server.sim().set_faults(Default::default()).unwrap();
    assert!(open(&server, &token, PARTNER).await.is_ok());

    let (_, token) = mint(&server, &admin, &stopped, 600, false, false).await;
    // The page and the WebSocket both call a stopped VM a conflict (409).
    let (status, page) = embed_console(&server, &token).await;
    assert_eq!(status, 409, "{page}");
    assert_eq!(error_kind(&page), "Conflict", "{page}");
    let (status, body) = open(&server, &token, PARTNER).await.err().unwrap();
    assert_eq!(
        (status, body.trim()),
        (409, format!("VM {} is not running", stopped.vmid).as_str())
    );
}

#[tokio::test]
async fn revoking_a_link_ends_its_open_consoles() {
    let server = start().await;
    let admin = server.admin().await;
    let vm = server.vms(&admin, true).await.remove(0);
    let (id, token) = mint(&server, &admin, &vm, 600, false, false).await;
    let mut viewer = open(&server, &token, PARTNER).await.unwrap();
    viewer.request_update(false).await;
    viewer.read_update().await.unwrap();

    revoke(&server, &admin, id).await;
    // Checked every 10 s.
    let reason = viewer.ws.expect_close(1008, Duration::from_secs(15)).await;
    assert!(reason.contains("revoked"), "{reason}");
}
