//! Restarts lose nothing. The real `cecyber` binary (demo mode) is killed with `kill -9` while
//! four writers create users and log them in, change roles, edit alert rules and mint wall
//! links, embed links and API tokens; then it is started again on the same database — three
//! times. After each restart:
//! - every write that was acknowledged (a 2xx answer reached the writer before the kill) is
//!   there and works: users exist with their role, their sessions and the admin's session from
//!   the first start still hold, rules have the values last given, wall links, embed links and
//!   API tokens still open what they open;
//! - a write that was in flight at the kill is there whole (a user can log in with its
//!   password, a rule has all the values of one update) or not at all, and nothing else is;
//! - the database passes `PRAGMA integrity_check` and is in WAL mode (read while the server
//!   runs, and once more between the last kill and the restart);
//! - the live window refills: the overview stream sends a snapshot with running VMs and a
//!   history of totals.
//!
//! `cargo test -p server --test restarts`

mod support;

use std::{
    collections::{HashMap, HashSet},
    os::unix::process::ExitStatusExt,
    path::Path,
    str::FromStr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use support::{
    Vm,
    process::{ServerProcess, fresh_dir},
};

/// Writers running at once.
const WRITERS: usize = 4;
/// Kill/restart rounds.
const ROUNDS: usize = 3;
/// How long the writers write before the kill.
const WRITING: Duration = Duration::from_millis(1500);
/// Longest a write may take before it counts as lost.
const REQUEST_LIMIT: Duration = Duration::from_secs(10);
/// Longest the live stream may take to send a snapshot with data.
const SNAPSHOT_LIMIT: Duration = Duration::from_secs(30);
/// The partner origin of the embed links.
const PARTNER: &str = "https://portal.example";

/// The password of the test user `name` (each user has its own).
fn password_of(name: &str) -> String {
    format!("{name}-password")
}

/// What became of one request.
enum Answer {
    /// A 2xx arrived; with its JSON body when that arrived too.
    Acked(Option<Value>),
    /// No answer: the connection died with the server. It may or may not have been done.
    Lost,
    /// Never reached a server (connection refused): certainly not done.
    Unsent,
}

/// Sends `request`; a refusal (non-2xx) panics, since no valid write should get one.
async fn send(request: reqwest::RequestBuilder, what: &str) -> (Answer, Option<String>) {
    let response = match request.timeout(REQUEST_LIMIT).send().await {
        Ok(response) => response,
        Err(e) if e.is_connect() => return (Answer::Unsent, None),
        Err(_) => return (Answer::Lost, None),
    };
    let status = response.status();
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned);
    let body = response.text().await.ok();
    assert!(status.is_success(), "{what} refused: {status} {body:?}");
    let json = body.map(|text| serde_json::from_str(&text).unwrap_or(Value::String(text)));
    (Answer::Acked(json), cookie)
}

/// A write that was acknowledged, with what is needed to check it later.
#[derive(Debug, Clone)]
enum Write {
    User(String),
    Login { user: String, cookie: String },
    Role(String),
    Wall { label: String, token: String },
    Embed { id: i64, token: String },
    Token(String),
}

/// A write that was in flight when the server died, as far as it is known before the answer.
#[derive(Debug, Clone)]
enum Unsure {
    User(String),
    Role(String),
    Wall(String),
    Other(&'static str),
}

impl Unsure {
    /// What was being written, for the summary.
    fn what(&self) -> String {
        match self {
            Self::User(user) => format!("user {user}"),
            Self::Role(user) => format!("role of {user}"),
            Self::Wall(label) => format!("wall link {label}"),
            Self::Other(what) => (*what).to_owned(),
        }
    }
}

/// The values of an alert rule that writers change (`for_secs` tells updates apart).
#[derive(Debug, Clone, PartialEq)]
struct RuleValues {
    threshold: f64,
    clear: f64,
    for_secs: i64,
    level: String,
}

impl RuleValues {
    /// The values of `rule` as `alert_rules` lists it.
    fn of(rule: &Value) -> Self {
        Self {
            threshold: rule["threshold"].as_f64().unwrap(),
            clear: rule["clear"].as_f64().unwrap(),
            for_secs: rule["for_secs"].as_i64().unwrap(),
            level: rule["level"].as_str().unwrap().to_owned(),
        }
    }

    /// The `n`th update a writer makes.
    fn nth(n: u64) -> Self {
        let threshold = 50.0 + (n % 40) as f64;
        Self {
            threshold,
            clear: threshold - 10.0,
            for_secs: 1000 + n as i64,
            level: if n.is_multiple_of(2) {
                "warning"
            } else {
                "critical"
            }
            .to_owned(),
        }
    }
}

/// One writer: its HTTP client, its alert rule, and what it has written over every round.
struct Writer {
    name: String,
    http: reqwest::Client,
    base: String,
    cookie: String,
    vm: Vm,
    rule_id: i64,
    /// Every value given to the rule, oldest first (the one it had at the start first), and
    /// whether it was acknowledged.
    rule_log: Vec<(RuleValues, bool)>,
    acked: Vec<Write>,
    unsure: Vec<Unsure>,
    /// Writes acknowledged per round, for the summary.
    counts: Vec<usize>,
    next: u64,
}

impl Writer {
    /// Writer `index`, writing as `cookie`'s admin, owner of alert rule `rule`.
    fn new(index: usize, server: &ServerProcess, cookie: &str, vm: &Vm, rule: &Value) -> Self {
        Self {
            name: format!("w{index}"),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: server.base.clone(),
            cookie: cookie.to_owned(),
            vm: vm.clone(),
            rule_id: rule["id"].as_i64().unwrap(),
            rule_log: vec![(RuleValues::of(rule), true)],
            acked: Vec::new(),
            unsure: Vec::new(),
            counts: Vec::new(),
            next: 0,
        }
    }

    /// Writes until a request goes unanswered, which must happen only once `killing` is set.
    async fn run(mut self, killing: Arc<AtomicBool>) -> Self {
        let before = self.acked.len();
        while self.cycle().await {}
        assert!(
            killing.load(Ordering::SeqCst),
            "{}: a write went unanswered while the server was up",
            self.name
        );
        self.counts.push(self.acked.len() - before);
        self
    }

    /// One of each write; false once one went unanswered.
    async fn cycle(&mut self) -> bool {
        let user = format!("{}-{}", self.name, self.next);
        self.next += 1;
        self.create_user(&user).await
            && self.log_in(&user).await
            && self.set_role(&user).await
            && self.update_rule().await
            && self.create_wall(&user).await
            && self.create_embed().await
            && self.create_token(&user).await
    }

    /// Posts server function `endpoint` as the admin.
    async fn post(&self, endpoint: &str, form: &[(&str, &str)]) -> Answer {
        let request = self
            .http
            .post(format!("{}/api/{endpoint}", self.base))
            .header("accept", "application/json")
            .header("cookie", &self.cookie)
            .form(form);
        send(request, endpoint).await.0
    }

    /// Records what became of a write: `done` made from the answer's body when acknowledged
    /// (`None` when the write needs a body that did not arrive), `unsure` when lost.
    fn record(&mut self, answer: Answer, done: Option<Write>, unsure: Unsure) -> bool {
        match (answer, done) {
            (Answer::Acked(_), Some(write)) => self.acked.push(write),
            (Answer::Acked(_), None) | (Answer::Lost, _) => {
                self.unsure.push(unsure);
                return false;
            }
            (Answer::Unsent, _) => return false,
        }
        true
    }

    /// Creates `user`, a viewer with its own password.
    async fn create_user(&mut self, user: &str) -> bool {
        let password = password_of(user);
        let form = [
            ("username", user),
            ("password", &password),
            ("role", "viewer"),
        ];
        let answer = self.post("users_create", &form).await;
        self.record(
            answer,
            Some(Write::User(user.into())),
            Unsure::User(user.into()),
        )
    }

    /// A session is a write too: logs `user` in and keeps the cookie.
    async fn log_in(&mut self, user: &str) -> bool {
        let password = password_of(user);
        let request = self
            .http
            .post(format!("{}/api/login", self.base))
            .form(&[("username", user), ("password", &password)]);
        let (answer, cookie) = send(request, "login").await;
        let done = cookie.map(|cookie| Write::Login {
            user: user.into(),
            cookie,
        });
        self.record(answer, done, Unsure::Other("login"))
    }

    /// Makes `user` an operator.
    async fn set_role(&mut self, user: &str) -> bool {
        let answer = self
            .post(
                "users_set_role",
                &[("username", user), ("role", "operator")],
            )
            .await;
        self.record(
            answer,
            Some(Write::Role(user.into())),
            Unsure::Role(user.into()),
        )
    }

    /// Gives the writer's alert rule new values (all of them in one update).
    async fn update_rule(&mut self) -> bool {
        let values = RuleValues::nth(self.next);
        let (id, threshold) = (self.rule_id.to_string(), values.threshold.to_string());
        let (clear, for_secs) = (values.clear.to_string(), values.for_secs.to_string());
        let form = [
            ("id", id.as_str()),
            ("threshold", &threshold),
            ("clear", &clear),
            ("for_secs", &for_secs),
            ("level", &values.level),
            ("enabled", "true"),
        ];
        let acked = match self.post("alert_rule_update", &form).await {
            Answer::Acked(_) => true,
            Answer::Lost => false,
            Answer::Unsent => return false,
        };
        self.rule_log.push((values, acked));
        acked
    }

    /// Mints a wall link labelled after `user`.
    async fn create_wall(&mut self, user: &str) -> bool {
        let label = format!("wall-{user}");
        let answer = self.post("wall_create", &[("label", &label)]).await;
        let done = body(&answer)
            .and_then(|link| link["url"].as_str()?.strip_prefix("/wall?token="))
            .map(|token| Write::Wall {
                label: label.clone(),
                token: token.to_owned(),
            });
        self.record(answer, done, Unsure::Wall(label))
    }

    /// Mints a view-only embed link for the writer's VM.
    async fn create_embed(&mut self) -> bool {
        let vmid = self.vm.vmid.to_string();
        let form = [
            ("cluster", self.vm.cluster.as_str()),
            ("node", &self.vm.node),
            ("vmid", &vmid),
            ("origin", PARTNER),
            ("ttl_secs", "3600"),
            ("single_use", "false"),
            ("view_only", "true"),
        ];
        let answer = self.post("embed_links_create", &form).await;
        let done = body(&answer).and_then(|link| {
            let token = link["url"]
                .as_str()?
                .strip_prefix("/embed/console?token=")?;
            Some(Write::Embed {
                id: link["id"].as_i64()?,
                token: token.to_owned(),
            })
        });
        self.record(answer, done, Unsure::Other("embed link"))
    }

    /// Makes an API token for the admin.
    async fn create_token(&mut self, user: &str) -> bool {
        let label = format!("token-{user}");
        let answer = self.post("api_tokens_create", &[("label", &label)]).await;
        let done = body(&answer)
            .and_then(Value::as_str)
            .map(|token| Write::Token(token.to_owned()));
        self.record(answer, done, Unsure::Other("API token"))
    }

    /// The values the rule may have now: the last acknowledged ones, or any given after them.
    fn rule_may_be(&self) -> &[(RuleValues, bool)] {
        let last_acked = self.rule_log.iter().rposition(|(_, acked)| *acked);
        &self.rule_log[last_acked.unwrap_or(0)..]
    }
}

/// The JSON body of an acknowledged answer.
fn body(answer: &Answer) -> Option<&Value> {
    match answer {
        Answer::Acked(json) => json.as_ref(),
        _ => None,
    }
}

/// Every acknowledged write of every writer.
fn all_acked(writers: &[Writer]) -> impl Iterator<Item = &Write> {
    writers.iter().flat_map(|w| &w.acked)
}

/// Every write of every writer that was in flight at a kill.
fn all_unsure(writers: &[Writer]) -> impl Iterator<Item = &Unsure> {
    writers.iter().flat_map(|w| &w.unsure)
}

/// Lets the writers write for [`WRITING`], kills the server with `kill -9` while they do, and
/// returns them once each has seen its connection die.
async fn write_and_kill(server: &mut ServerProcess, writers: Vec<Writer>) -> Vec<Writer> {
    let killing = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = writers
        .into_iter()
        .map(|w| tokio::spawn(w.run(Arc::clone(&killing))))
        .collect();
    tokio::time::sleep(WRITING).await;
    killing.store(true, Ordering::SeqCst);
    let status = server
        .signal("KILL", Duration::from_secs(10))
        .await
        .expect("the server ends on kill -9");
    assert_eq!(status.signal(), Some(9), "{status}");
    let mut writers = Vec::new();
    for task in tasks {
        let writer = tokio::time::timeout(REQUEST_LIMIT * 2, task)
            .await
            .expect("a writer notices the kill");
        writers.push(writer.expect("writer"));
    }
    writers
}

/// The database file is in WAL mode per its header (bytes 18 and 19 are 2), read without
/// opening it through SQLite.
fn assert_wal_header(dir: &Path) {
    let bytes = std::fs::read(dir.join("cecyber.db")).expect("the database file");
    assert!(bytes.len() >= 100, "a database header");
    assert_eq!(&bytes[..16], b"SQLite format 3\0");
    assert_eq!(
        (bytes[18], bytes[19]),
        (2, 2),
        "WAL mode in the file header"
    );
}

/// `PRAGMA integrity_check` says "ok" and the journal mode is WAL.
async fn assert_database_intact(dir: &Path) {
    let url = format!("sqlite://{}/cecyber.db", dir.display());
    let options = SqliteConnectOptions::from_str(&url).unwrap();
    let db = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .expect("the database opens");
    let check: Vec<(String,)> = sqlx::query_as("PRAGMA integrity_check")
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(check, vec![("ok".to_owned(),)], "integrity check");
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    db.close().await;
}

/// Calls `endpoint` with `cookie`; its JSON, which must be a success.
async fn read(server: &ServerProcess, cookie: &str, endpoint: &str) -> Value {
    let (status, body) = server.call(Some(cookie), endpoint, &[]).await;
    assert!(status.is_success(), "{endpoint}: {status} {body}");
    body
}

/// Acknowledged users exist with their role; users written at a kill exist whole or not at
/// all; no other user exists.
async fn check_users(server: &ServerProcess, admin: &str, writers: &[Writer]) {
    let listed: HashMap<String, String> = read(server, admin, "users_list")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["username"].as_str().unwrap().into(),
                u["role"].as_str().unwrap().into(),
            )
        })
        .collect();
    let mut expected: HashMap<&str, HashSet<&str>> =
        HashMap::from([("admin", HashSet::from(["admin"]))]);
    for write in all_acked(writers) {
        match write {
            Write::User(user) => {
                expected.insert(user, HashSet::from(["viewer"]));
            }
            Write::Role(user) => {
                expected.insert(user, HashSet::from(["operator"]));
            }
            _ => {}
        }
    }
    for unsure in all_unsure(writers) {
        if let Unsure::Role(user) = unsure {
            expected.get_mut(user.as_str()).unwrap().insert("operator");
        }
    }
    let mut in_flight = Vec::new();
    for unsure in all_unsure(writers) {
        if let Unsure::User(user) = unsure
            && let Some(role) = listed.get(user)
        {
            assert_eq!(role, "viewer", "{user} was being created as a viewer");
            in_flight.push(user.as_str());
        }
    }
    for (user, roles) in &expected {
        let role = listed
            .get(*user)
            .unwrap_or_else(|| panic!("acknowledged user {user} is missing"));
        assert!(
            roles.contains(role.as_str()),
            "{user} has role {role}, expected {roles:?}"
        );
    }
    for user in listed.keys() {
        assert!(
            expected.contains_key(user.as_str()) || in_flight.contains(&user.as_str()),
            "{user} exists but was never written"
        );
    }
    check_passwords(server, writers, &in_flight).await;
}

/// Users created at a kill that exist, and each writer's newest acknowledged user, log in with
/// their passwords (each login costs an argon2 hash, so not every user is tried).
async fn check_passwords(server: &ServerProcess, writers: &[Writer], in_flight: &[&str]) {
    let newest = writers.iter().filter_map(|w| {
        w.acked.iter().rev().find_map(|write| match write {
            Write::User(user) => Some(user.as_str()),
            _ => None,
        })
    });
    for user in in_flight.iter().copied().chain(newest) {
        // `login` panics when the answer sets no cookie.
        server.login(user, &password_of(user)).await;
    }
}

/// Sessions opened before a kill (the writers' users') still work.
async fn check_sessions(server: &ServerProcess, writers: &[Writer]) {
    for write in all_acked(writers) {
        if let Write::Login { user, cookie } = write {
            let (status, body) = server.call(Some(cookie), "alert_rules", &[]).await;
            assert_eq!(status, StatusCode::OK, "session of {user} lost: {body}");
        }
    }
}

/// Each writer's rule has the values it was last given with an acknowledgement, or the values
/// of an update in flight after that one.
async fn check_rules(server: &ServerProcess, admin: &str, writers: &[Writer]) {
    let rules = read(server, admin, "alert_rules").await;
    for writer in writers {
        let rule = rules
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == writer.rule_id)
            .expect("the writer's rule");
        let now = RuleValues::of(rule);
        let allowed = writer.rule_may_be();
        assert!(
            allowed.iter().any(|(values, _)| *values == now),
            "rule {} is {now:?}; expected one of {allowed:?}",
            writer.rule_id
        );
        assert_eq!(rule["enabled"], true);
    }
}

/// Acknowledged wall links are listed, not revoked, and open the live stream; links written at
/// a kill are the only others.
async fn check_walls(server: &ServerProcess, admin: &str, writers: &[Writer]) {
    let listed: HashMap<String, Value> = read(server, admin, "wall_list")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (w["label"].as_str().unwrap().to_owned(), w.clone()))
        .collect();
    let http = reqwest::Client::new();
    let mut known = HashSet::new();
    for write in all_acked(writers) {
        if let Write::Wall { label, token } = write {
            let link = listed
                .get(label)
                .unwrap_or_else(|| panic!("acknowledged wall link {label} is missing"));
            assert!(link["revoked_at"].is_null(), "{link}");
            let url = format!("{}/api/live?view=overview&wall={token}", server.base);
            let stream = http.get(url).send().await.unwrap();
            assert_eq!(
                stream.status(),
                StatusCode::OK,
                "wall link {label} no longer opens the stream"
            );
            known.insert(label.as_str());
        }
    }
    for unsure in all_unsure(writers) {
        if let Unsure::Wall(label) = unsure {
            known.insert(label.as_str());
        }
    }
    for label in listed.keys() {
        assert!(
            known.contains(label.as_str()),
            "wall link {label} was never written"
        );
    }
}

/// Acknowledged embed links are listed as made, and their pages accept their tokens (signed
/// with the key the database keeps).
async fn check_embeds(server: &ServerProcess, admin: &str, writers: &[Writer]) {
    let listed: HashMap<i64, Value> = read(server, admin, "embed_links_list")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["id"].as_i64().unwrap(), l.clone()))
        .collect();
    let http = reqwest::Client::new();
    for writer in writers {
        for write in &writer.acked {
            let Write::Embed { id, token } = write else {
                continue;
            };
            let link = listed
                .get(id)
                .unwrap_or_else(|| panic!("acknowledged embed link {id} is missing"));
            assert_eq!(link["vmid"], writer.vm.vmid, "{link}");
            assert_eq!(link["origin"], PARTNER, "{link}");
            assert_eq!(
                (link["single_use"].as_bool(), link["view_only"].as_bool()),
                (Some(false), Some(true)),
                "{link}"
            );
            assert!(link["revoked_at"].is_null(), "{link}");
            let page = http
                .get(format!("{}/embed/console?token={token}", server.base))
                .send()
                .await
                .unwrap();
            assert_eq!(
                page.headers()["content-security-policy"],
                format!("frame-ancestors {PARTNER}").as_str(),
                "embed link {id}'s token is no longer accepted"
            );
        }
    }
}

/// Acknowledged API tokens still authenticate.
async fn check_tokens(server: &ServerProcess, writers: &[Writer]) {
    let http = reqwest::Client::new();
    for write in all_acked(writers) {
        if let Write::Token(token) = write {
            let listed = http
                .get(format!("{}/api/v1/embed-links", server.base))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            assert_eq!(
                listed.status(),
                StatusCode::OK,
                "an acknowledged API token no longer works"
            );
        }
    }
}

/// The `data` of the first `snapshot` event on the overview stream whose window has running
/// VMs (a stream opened before the first poll gets an empty one first, then a full one when
/// the window has been filled from PVE's history).
async fn first_full_snapshot(response: reqwest::Response) -> Value {
    let mut body = response.bytes_stream();
    let mut text = String::new();
    let mut empty = 0;
    loop {
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            if !block.lines().any(|l| l == "event: snapshot") {
                continue;
            }
            let data = block
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .expect("snapshot data");
            let snapshot: Value = serde_json::from_str(data).unwrap();
            let busy = snapshot["clusters"][0]["busiest"]
                .as_array()
                .is_some_and(|b| !b.is_empty());
            if busy {
                eprintln!("live: a full snapshot after {empty} empty one(s)");
                return snapshot;
            }
            empty += 1;
        }
        let chunk = body
            .next()
            .await
            .expect("the stream goes on")
            .expect("stream");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
}

/// After a restart the live window refills: the overview has VMs, nodes and a history of
/// totals (more than the live point, so it came from PVE's history).
async fn check_live_window(server: &ServerProcess, cookie: &str) {
    let response = reqwest::Client::new()
        .get(format!("{}/api/live?view=overview", server.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the session from before the kills opens the stream"
    );
    let snapshot = tokio::time::timeout(SNAPSHOT_LIMIT, first_full_snapshot(response))
        .await
        .expect("a snapshot with data in time");
    let cluster = &snapshot["clusters"][0];
    assert!(cluster["stale_since"].is_null(), "{cluster}");
    assert!(
        cluster["nodes"].as_array().is_some_and(|n| !n.is_empty()),
        "{cluster}"
    );
    let totals = cluster["totals"].as_array().expect("totals").len();
    assert!(
        totals > 60,
        "{totals} points of totals: the window was not refilled from history"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    let dir = fresh_dir("restarts");
    let mut server = ServerProcess::start(&dir, &[]).await;
    let admin = server.admin().await;
    let vm = server.vms(&admin, true).await.remove(0);
    let rules = read(&server, &admin, "alert_rules").await;
    let rules = rules.as_array().unwrap();
    assert!(rules.len() >= WRITERS, "a rule per writer: {rules:?}");
    let mut writers: Vec<Writer> = (0..WRITERS)
        .map(|i| Writer::new(i, &server, &admin, &vm, &rules[i]))
        .collect();
    for round in 1..=ROUNDS {
        writers = write_and_kill(&mut server, writers).await;
        assert_wal_header(&dir);
        if round == ROUNDS {
            // Once, between the kill and the restart (opening it recovers the WAL here).
            assert_database_intact(&dir).await;
        }
        server.restart().await;
        assert_database_intact(&dir).await;
        // The admin's session is the one from the first start.
        check_users(&server, &admin, &writers).await;
        check_sessions(&server, &writers).await;
        check_rules(&server, &admin, &writers).await;
        check_walls(&server, &admin, &writers).await;
        check_embeds(&server, &admin, &writers).await;
        check_tokens(&server, &writers).await;
        check_live_window(&server, &admin).await;
        let acked: Vec<usize> = writers.iter().map(|w| w.counts[round - 1]).collect();
        let unsure: Vec<String> = all_unsure(&writers).map(Unsure::what).collect();
        eprintln!(
            "round {round}: acknowledged per writer {acked:?}; in flight at kills so far: {unsure:?}"
        );
    }
    assert!(
        all_unsure(&writers).count() > 0,
        "no write was ever in flight at a kill: the test did not test that"
    );
}
