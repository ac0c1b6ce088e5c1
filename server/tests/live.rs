//! The live stream: one upstream poll per tick whatever the number of viewers, no polling
//! without viewers, a stalled viewer delays nobody, resumption, failures shown as stale.
//! Server and simulator run in-process and talk over real HTTP.
//! Run: `cargo test -p server --test live`

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use app::{access::Role, access::Scope, live::LiveViewKind};
use futures::StreamExt;
use pve::types::ClusterResource;
use server::{
    config::{Cli, load},
    live::{
        LiveHub,
        collector::{self, ApiSource, ResourceSource},
        views::Audience,
    },
    router, runtime,
};

const ADMIN_PASSWORD: &str = "live-admin-password";
const TICK: Duration = Duration::from_millis(300);

/// Counts the polls that reach the simulator.
struct Counting {
    inner: ApiSource,
    calls: AtomicUsize,
    fail: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl ResourceSource for Counting {
    async fn resources(&self) -> pve::Result<Vec<ClusterResource>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.fail.load(Ordering::SeqCst) {
            return Err(pve::Error::Connect {
                message: "simulated outage".into(),
            });
        }
        self.inner.resources().await
    }
}

struct Setup {
    base: String,
    hub: Arc<LiveHub>,
    source: Arc<Counting>,
    cookie: String,
    _runtime: runtime::Runtime,
}

async fn setup() -> Setup {
    let dir = std::env::temp_dir().join(format!(
        "cecyber-live-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let _ = std::fs::remove_file(dir.join("t.db"));
    let vars = vec![
        (
            "CECYBER_DATABASE_URL".to_string(),
            format!("sqlite://{}/t.db", dir.display()),
        ),
        (
            "CECYBER_ADMIN_PASSWORD".to_string(),
            ADMIN_PASSWORD.to_string(),
        ),
        ("CECYBER_FORCE_DEMO".to_string(), "true".to_string()),
    ];
    let (config, _) = load(&Cli::default(), vars).unwrap();
    let mut runtime = runtime::start(&config).await.unwrap();
    // A hub of our own, fed by a counting collector around the demo cluster's real client.
    let hub = LiveHub::new(100);
    let source = Arc::new(Counting {
        inner: ApiSource(Arc::clone(&runtime.state.clusters.all()[0].api)),
        calls: AtomicUsize::new(0),
        fail: false.into(),
    });
    collector::spawn(Arc::clone(&hub), "demo".into(), source.clone(), TICK, None);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    runtime.live = Arc::clone(&hub);
    tokio::spawn(server::serve::serve(
        listener,
        router::app(&runtime),
        runtime.connection_limits,
        runtime.shutdown.clone(),
    ));

    let cookie = login(&base, "admin", ADMIN_PASSWORD).await;
    Setup {
        base,
        hub,
        source,
        cookie,
        _runtime: runtime,
    }
}

/// Logs in; returns the session cookie (`name=value`).
async fn login(base: &str, username: &str, password: &str) -> String {
    let login = reqwest::Client::new()
        .post(format!("{base}/api/login"))
        .form(&[("username", username), ("password", password)])
        .send()
        .await
        .unwrap();
    login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

/// Reads SSE events of `response` until `count` events named `name` arrived; returns all text.
async fn read_events(
    response: reqwest::Response,
    name: &str,
    count: usize,
    limit: Duration,
) -> String {
    let mut body = response.bytes_stream();
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + limit;
    while text.matches(&format!("event: {name}")).count() < count {
        match tokio::time::timeout_at(deadline, body.next()).await {
            Ok(Some(Ok(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
            _ => panic!(
                "only {} {name} events before the deadline:\n{text}",
                text.matches(name).count()
            ),
        }
    }
    text
}

async fn open(setup: &Setup, last_event_id: Option<&str>) -> reqwest::Response {
    open_as(setup, &setup.cookie, "view=overview", last_event_id).await
}

async fn open_as(
    setup: &Setup,
    cookie: &str,
    query: &str,
    last_event_id: Option<&str>,
) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .get(format!("{}/api/live?{query}", setup.base))
        .header("cookie", cookie);
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    response
}

#[tokio::test]
async fn nobody_watching_means_no_polls() {
    let setup = setup().await;
    tokio::time::sleep(TICK * 4).await;
    assert_eq!(setup.source.calls.load(Ordering::SeqCst), 0);
    let response = open(&setup, None).await;
    let text = read_events(response, "tick", 1, Duration::from_secs(10)).await;
    assert!(
        text.starts_with("event: snapshot") || text.contains("event: snapshot"),
        "{text}"
    );
    assert!(setup.source.calls.load(Ordering::SeqCst) >= 1);
}

#[tokio::test]
async fn many_viewers_share_one_poll_per_tick() {
    let setup = setup().await;
    let viewers = 25;
    let mut readers = Vec::new();
    for _ in 0..viewers {
        let response = open(&setup, None).await;
        readers.push(tokio::spawn(read_events(
            response,
            "tick",
            4,
            Duration::from_secs(20),
        )));
    }
    let before = setup.source.calls.load(Ordering::SeqCst);
    tokio::time::sleep(TICK * 10).await;
    let polls = setup.source.calls.load(Ordering::SeqCst) - before;
    // At most one poll per tick (fewer when the machine is slow), never one per viewer.
    assert!(
        (1..=11).contains(&polls),
        "{polls} upstream polls in 10 ticks for {viewers} viewers"
    );
    for reader in readers {
        let text = reader.await.unwrap();
        assert!(text.contains("\"cluster\":\"demo\""));
        assert!(
            text.contains("\"busiest\":[{\"vmid\":"),
            "ticks carry the simulated VMs"
        );
    }
}

#[tokio::test]
async fn a_stalled_viewer_does_not_delay_the_others() {
    let setup = setup().await;
    // A viewer that connects and then never reads.
    let stalled = open(&setup, None).await;
    let mut direct_stall = setup.hub.subscribe();
    let healthy = open(&setup, None).await;
    let text = read_events(healthy, "tick", 40, Duration::from_secs(120)).await;
    // The healthy viewer got every tick in order with no resynchronisation: nobody waited for
    // the stalled ones, and their backlog did not spill over.
    let ids: Vec<u64> = text
        .lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .map(|id| id.parse().unwrap())
        .collect();
    assert!(
        ids.windows(2).all(|w| w[1] == w[0] + 1),
        "consecutive ids: {ids:?}"
    );
    assert_eq!(
        text.matches("event: snapshot").count(),
        1,
        "only the opening snapshot"
    );
    assert!(
        matches!(
            direct_stall.events.recv().await,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_))
        ),
        "the stalled subscriber is told it fell behind (and then gets a snapshot)"
    );
    drop(stalled);
}

#[tokio::test]
async fn resumption_with_last_event_id_and_stale_clusters() {
    let setup = setup().await;
    let first = read_events(open(&setup, None).await, "tick", 2, Duration::from_secs(10)).await;
    let last_id: String = first
        .lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .next_back()
        .unwrap()
        .to_owned();
    // Resuming sends the missed ticks, not a snapshot.
    let resumed = read_events(
        open(&setup, Some(&last_id)).await,
        "tick",
        1,
        Duration::from_secs(10),
    )
    .await;
    assert!(!resumed.contains("event: snapshot"), "{resumed}");
    // An unknown id gets a snapshot.
    let fresh = read_events(
        open(&setup, Some("999999")).await,
        "snapshot",
        1,
        Duration::from_secs(10),
    )
    .await;
    assert!(fresh.contains("event: snapshot"));

    setup.source.fail.store(true, Ordering::SeqCst);
    let text = read_events(
        open(&setup, None).await,
        "stale",
        1,
        Duration::from_secs(10),
    )
    .await;
    assert!(text.contains("simulated outage"), "{text}");
    setup.source.fail.store(false, Ordering::SeqCst);
    let text = read_events(open(&setup, None).await, "tick", 1, Duration::from_secs(30)).await;
    assert!(text.contains("\"totals\":{"), "recovers by itself");
}

#[tokio::test]
async fn the_stream_needs_a_session() {
    let setup = setup().await;
    let response = reqwest::get(format!("{}/api/live", setup.base))
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(setup.hub.watchers(), 0);
}

/// Waits for the hub's next tick (other events are skipped).
async fn next_tick(sub: &mut server::live::hub::Subscription, deadline: tokio::time::Instant) {
    loop {
        let event = tokio::time::timeout_at(deadline, sub.events.recv())
            .await
            .expect("a tick before the deadline")
            .unwrap();
        if matches!(event.event, server::live::hub::LiveEvent::Tick(_)) {
            return;
        }
    }
}

#[tokio::test]
async fn a_fresh_window_is_filled_from_pve_history() {
    let setup = setup().await;
    // A hub fed by the real client: its first poll brings /cluster/metrics/export along.
    let hub = LiveHub::new(500);
    let api = Arc::clone(&setup._runtime.state.clusters.all()[0].api);
    collector::spawn(
        Arc::clone(&hub),
        "demo".into(),
        Arc::new(ApiSource(api)),
        TICK,
        None,
    );
    let mut sub = hub.subscribe();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    next_tick(&mut sub, deadline).await;
    let everything = Audience {
        view: LiveViewKind::Overview,
        scope: Scope::everything(),
    };
    let running = hub.snapshot(&everything).clusters[0]
        .busiest
        .clone()
        .unwrap()
        .first()
        .expect("a running VM")
        .vmid;
    let one_vm = Audience {
        view: LiveViewKind::Vm {
            cluster: "demo".into(),
            vmid: running,
        },
        scope: Scope::everything(),
    };
    // Node load comes from /nodes/{node}/status, read after the first poll: the next tick has it.
    next_tick(&mut sub, deadline).await;
    let nodes = hub.snapshot(&everything).clusters[0].nodes.clone().unwrap();
    assert!(!nodes.is_empty());
    for n in nodes.iter().filter(|n| n.node.status == "online") {
        assert!(n.node.load.is_some_and(|l| l >= 0.0), "{n:?}");
    }
    let snapshot = hub.snapshot(&one_vm);
    let vm = &snapshot.clusters[0].vms.as_ref().unwrap()[0];
    // 30 minutes at 10 s from the export, plus the live point.
    assert!(vm.points.len() >= 150, "{} points", vm.points.len());
    let times: Vec<i64> = vm.points.iter().map(|p| p.t).collect();
    assert!(
        times.windows(2).all(|w| w[0] < w[1]),
        "oldest first, no duplicates: {times:?}"
    );
    assert!(
        vm.points.iter().skip(1).any(|p| p.netin.is_some()),
        "rates from the export's counters"
    );
}

/// The `data` JSON of every event named `name` in `text`.
fn data_of(text: &str, name: &str) -> Vec<serde_json::Value> {
    text.split("\n\n")
        .filter(|block| block.lines().any(|l| l == format!("event: {name}")))
        .filter_map(|block| block.lines().find_map(|l| l.strip_prefix("data: ")))
        .map(|json| serde_json::from_str(json).unwrap())
        .collect()
}

#[tokio::test]
async fn a_viewer_does_not_receive_vms_outside_their_scope() {
    let setup = setup().await;
    let db = &setup._runtime.state.db;
    app::users::ssr::create(db, "prodviewer", "prodviewer-password", Role::Viewer)
        .await
        .unwrap();
    app::users::ssr::set_scope(db, "prodviewer", &Scope::parse("prod").unwrap())
        .await
        .unwrap();
    let cookie = login(&setup.base, "prodviewer", "prodviewer-password").await;
    // What the simulator has: the VMs tagged prod, and the others.
    let api = &setup._runtime.state.clusters.all()[0].api;
    let resources = api.cluster_resources(None).await.unwrap();
    let tagged: std::collections::BTreeSet<u64> = resources
        .iter()
        .filter(|r| r.is_vm() && r.tag_list().iter().any(|t| t == "prod"))
        .filter_map(|r| r.vmid.map(u64::from))
        .collect();
    let all_tags: Vec<_> = resources
        .iter()
        .filter(|r| r.is_vm())
        .map(|r| (r.vmid, r.tags.clone()))
        .collect();
    assert!(
        !tagged.is_empty() && tagged.len() < all_tags.len(),
        "{all_tags:?}"
    );

    let text = read_events(
        open_as(&setup, &cookie, "view=vm-cpu", None).await,
        "tick",
        2,
        Duration::from_secs(20),
    )
    .await;
    for tick in data_of(&text, "tick") {
        let seen: std::collections::BTreeSet<u64> = tick["cpu"]
            .as_array()
            .unwrap()
            .iter()
            .map(|pair| pair[0].as_u64().unwrap())
            .collect();
        assert_eq!(seen, tagged, "exactly the VMs tagged prod");
    }
    for snapshot in data_of(&text, "snapshot") {
        for cluster in snapshot["clusters"].as_array().unwrap() {
            for pair in cluster["cpu"].as_array().unwrap() {
                assert!(tagged.contains(&pair[0].as_u64().unwrap()));
            }
        }
    }

    // The overview: no node figures, and only tagged VMs among the busiest.
    let text = read_events(
        open_as(&setup, &cookie, "view=overview", None).await,
        "tick",
        1,
        Duration::from_secs(20),
    )
    .await;
    let tick = &data_of(&text, "tick")[0];
    assert_eq!(tick["nodes"], serde_json::json!([]));
    for vm in tick["busiest"].as_array().unwrap() {
        assert!(tagged.contains(&vm["vmid"].as_u64().unwrap()));
    }

    // A VM outside the scope: nothing of it arrives; node views are refused.
    let outside = resources
        .iter()
        .filter(|r| r.is_vm())
        .filter_map(|r| r.vmid)
        .find(|id| !tagged.contains(&u64::from(*id)))
        .unwrap();
    let text = read_events(
        open_as(
            &setup,
            &cookie,
            &format!("view=vm&cluster=demo&vmid={outside}"),
            None,
        )
        .await,
        "tick",
        1,
        Duration::from_secs(20),
    )
    .await;
    assert!(!text.contains("\"vmid\""), "{text}");
    let refused = reqwest::Client::new()
        .get(format!(
            "{}/api/live?view=node&cluster=demo&node=pve1",
            setup.base
        ))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
}

#[tokio::test]
async fn bad_views_are_refused() {
    let setup = setup().await;
    for (query, status) in [
        ("view=nonsense", 400),
        ("view=vm&cluster=demo&vmid=abc", 400),
        ("view=vm&cluster=nowhere&vmid=100", 404),
        ("view=node&cluster=demo&node=../x", 400),
    ] {
        let response = reqwest::Client::new()
            .get(format!("{}/api/live?{query}", setup.base))
            .header("cookie", &setup.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{query}");
    }
}

#[tokio::test]
async fn a_revoked_wall_link_or_session_ends_the_running_stream() {
    let setup = setup().await;
    let db = &setup._runtime.state.db;
    let (id, token) = app::wall::ssr::create(db, "tv", "admin").await.unwrap();
    let wall = reqwest::get(format!(
        "{}/api/live?view=overview&wall={token}",
        setup.base
    ))
    .await
    .unwrap();
    assert_eq!(wall.status(), 200);
    let session = open(&setup, None).await;
    app::wall::ssr::revoke(db, id).await.unwrap();
    app::access::sessions::delete(db, setup.cookie.split('=').nth(1).unwrap())
        .await
        .unwrap();
    let limit = server::live::sse::RECHECK + Duration::from_secs(10);
    for (who, response) in [("wall", wall), ("session", session)] {
        let text = read_events(response, "revoked", 1, limit).await;
        assert!(text.contains("event: revoked"), "{who}: {text}");
    }
    // Refused as the wall page refuses it (and embed links): the link is known, and no more.
    let again = reqwest::get(format!("{}/api/live?wall={token}", setup.base))
        .await
        .unwrap();
    assert_eq!(again.status(), 403);
}
