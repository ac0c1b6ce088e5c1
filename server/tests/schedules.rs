//! Power schedules against the simulator, with a clock the test sets: a slot runs exactly once
//! — across a runner that dies in the middle of the slot and a new one that takes over, and
//! across the clock set back and forward again —; slots that came while nothing ran are
//! recorded as missed and only the latest runs late, within its grace; bad input and other
//! users' guests are refused before anything is stored.
//!
//! The test server's own scheduler is off (`CECYBER_RUN_SCHEDULES=false`); each test drives
//! `Scheduler::tick` itself with a `ManualClock`, over the server's database and clusters.
//!
//! Run: `cargo test -p server --test schedules`

use std::{collections::HashMap, sync::Arc, time::Duration};

use app::schedules::ssr::{Scheduler, When, clock::ManualClock, scheduler::STALE_SECS};
use reqwest::StatusCode;
use serde_json::Value;

mod support;

use support::{ADMIN_PASSWORD, Browser, TestServer, USER_PASSWORD, error_kind, error_text};

async fn start() -> TestServer {
    support::start_with(&[("CECYBER_RUN_SCHEDULES", "false")]).await
}

/// A scheduler over the test server's database and clusters, reading `clock`.
fn scheduler(server: &TestServer, clock: &Arc<ManualClock>) -> Arc<Scheduler> {
    let state = &server.runtime.state;
    Scheduler::new(state.db.clone(), state.clusters.clone(), clock.clone())
}

/// Saves a schedule; its id, or the refusal.
async fn save(browser: &Browser, fields: &[(&str, &str)]) -> Result<i64, (StatusCode, Value)> {
    let mut form: HashMap<&str, &str> = [
        ("id", "0"),
        ("name", "test"),
        ("cluster", "demo"),
        ("action", "shutdown"),
        ("target_kind", "vms"),
        ("target", ""),
        ("calendar", "daily"),
        ("timezone", "UTC"),
        ("grace_minutes", "5"),
        ("enabled", "true"),
    ]
    .into();
    form.extend(fields.iter().copied());
    // The server function takes one struct argument, `form`, encoded as `form[field]`.
    let form: Vec<(String, &str)> = form
        .into_iter()
        .map(|(k, v)| (format!("form[{k}]"), v))
        .collect();
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let (status, body) = browser.call("schedule_save", &form).await;
    if status == StatusCode::OK {
        Ok(body.as_i64().expect("an id"))
    } else {
        Err((status, body))
    }
}

/// The stored cursor and the next slot after it.
async fn next_slot(server: &TestServer, id: i64) -> (i64, i64) {
    let (calendar, timezone, checked_until): (String, String, i64) = sqlx::query_as(
        "SELECT calendar, timezone, checked_until FROM power_schedules WHERE id = ?",
    )
    .bind(id)
    .fetch_one(&server.runtime.state.db)
    .await
    .unwrap();
    let when = When::parse(&calendar, &timezone).unwrap();
    (checked_until, when.next_after(checked_until).unwrap())
}

/// Runs rows of schedule `id`: (slot, status).
async fn runs(server: &TestServer, id: i64) -> Vec<(Option<i64>, String)> {
    sqlx::query_as(
        "SELECT slot, status FROM power_schedule_runs WHERE schedule_id = ? ORDER BY slot",
    )
    .bind(id)
    .fetch_all(&server.runtime.state.db)
    .await
    .unwrap()
}

/// The guests of the run of `slot`: vmid → (state, result).
async fn guests(server: &TestServer, id: i64, slot: i64) -> HashMap<u32, (String, String)> {
    let rows: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT g.vmid, g.state, g.result FROM power_schedule_run_guests g \
         JOIN power_schedule_runs r ON r.id = g.run_id WHERE r.schedule_id = ? AND r.slot = ?",
    )
    .bind(id)
    .bind(slot)
    .fetch_all(&server.runtime.state.db)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(vmid, state, result)| (vmid as u32, (state, result)))
        .collect()
}

/// How many tasks of `kind` PVE has for each guest.
async fn tasks_of(admin: &Browser, kind: &str) -> HashMap<u32, usize> {
    let (status, list) = admin.call("tasks_list", &[]).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let mut count = HashMap::new();
    for task in list["tasks"].as_array().unwrap() {
        if task["kind"] == kind {
            let vmid: u32 = task["id"].as_str().unwrap().parse().unwrap();
            *count.entry(vmid).or_default() += 1;
        }
    }
    count
}

/// Ids of up to `n` guests with `status` (VMs, not templates, not locked).
async fn vms_with(admin: &Browser, status: &str, n: usize) -> Vec<u32> {
    let (_, list) = admin.call("vms_list", &[("query[per]", "200")]).await;
    let ids: Vec<u32> = list["vms"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| {
            v["status"] == status
                && v["template"] == false
                && v["lock"].is_null()
                && v["kind"] == "qemu"
        })
        .map(|v| v["vmid"].as_u64().unwrap() as u32)
        .take(n)
        .collect();
    assert_eq!(ids.len(), n, "{n} {status} VMs: {list}");
    ids
}

/// What a runner that died leaves: the run of `slot` claimed (its last heartbeat at
/// `heartbeat`), the schedule's cursor past the slot, and its guests in the states given
/// (vmid, state, task).
async fn abandon(
    server: &TestServer,
    admin: &Browser,
    id: i64,
    slot: i64,
    heartbeat: i64,
    guests: &[(u32, &str, Option<&str>)],
) {
    let db = &server.runtime.state.db;
    let (run,): (i64,) = sqlx::query_as(
        "INSERT INTO power_schedule_runs (schedule_id, slot, status, requested_by, started_at, \
         heartbeat_at, runner) VALUES (?, ?, 'running', 'schedule', ?, ?, 'dead') RETURNING id",
    )
    .bind(id)
    .bind(slot)
    .bind(slot)
    .bind(heartbeat)
    .fetch_one(db)
    .await
    .unwrap();
    sqlx::query("UPDATE power_schedules SET checked_until = ? WHERE id = ?")
        .bind(slot)
        .bind(id)
        .execute(db)
        .await
        .unwrap();
    for (vmid, state, upid) in guests {
        sqlx::query(
            "INSERT INTO power_schedule_run_guests (run_id, vmid, node, kind, state, upid) \
             VALUES (?, ?, ?, 'qemu', ?, ?)",
        )
        .bind(run)
        .bind(vmid)
        .bind(node_of(admin, *vmid).await)
        .bind(state)
        .bind(upid)
        .execute(db)
        .await
        .unwrap();
    }
}

/// The node guest `vmid` is on.
async fn node_of(admin: &Browser, vmid: u32) -> String {
    admin.guest(vmid).await["node"].as_str().unwrap().to_owned()
}

fn join(ids: &[u32]) -> String {
    ids.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

#[tokio::test]
async fn a_slot_runs_once_across_a_runner_that_dies_midway_and_a_clock_set_back() {
    let server = start().await;
    let admin = server.log_in("admin", ADMIN_PASSWORD).await;
    let vms = vms_with(&admin, "running", 3).await;
    let id = save(
        &admin,
        &[
            ("action", "shutdown"),
            ("target", &join(&vms)),
            ("calendar", "daily"),
        ],
    )
    .await
    .unwrap();
    let (_, slot) = next_slot(&server, id).await;
    let clock = Arc::new(ManualClock::at(slot - 30));

    // Before the slot: nothing.
    let first = scheduler(&server, &clock);
    assert!(first.tick().await.unwrap().is_empty());
    assert!(runs(&server, id).await.is_empty());

    // The slot comes: the run is claimed, and its runner dies once a task has started.
    clock.set(slot + 1);
    let mut runners = first.tick().await.unwrap();
    assert_eq!(runners.len(), 1);
    let runner = runners.pop().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let states = guests(&server, id, slot).await;
        if states.values().any(|(s, _)| s == "running") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no task started: {states:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    runner.abort();
    let _ = runner.await;
    assert_eq!(
        runs(&server, id).await,
        [(Some(slot), "running".to_owned())]
    );

    // A restarted scheduler (another process) ticking at once: the slot is taken, and the run
    // is not stale yet, so nothing is started twice.
    let second = scheduler(&server, &clock);
    assert!(second.tick().await.unwrap().is_empty());

    // Once the dead runner's heartbeat is stale, the new one takes the run over and ends it.
    clock.advance(STALE_SECS + 1);
    let takeovers = second.tick().await.unwrap();
    assert_eq!(takeovers.len(), 1, "the stale run is taken over once");
    for handle in takeovers {
        tokio::time::timeout(Duration::from_secs(60), handle)
            .await
            .expect("the run ends")
            .unwrap();
    }
    let states = guests(&server, id, slot).await;
    let rows = runs(&server, id).await;
    assert_eq!(rows.len(), 1, "one run for the slot: {rows:?}");
    assert_ne!(rows[0].1, "running", "{rows:?}");
    let tasks = tasks_of(&admin, "qmshutdown").await;
    for vmid in &vms {
        let (state, result) = &states[vmid];
        let n = tasks.get(vmid).copied().unwrap_or(0);
        assert!(n <= 1, "VM {vmid} was shut down {n} times");
        match state.as_str() {
            "ok" => assert_eq!(n, 1, "VM {vmid}: ok without its task"),
            // A guest whose request was on its way when the runner died is not asked again.
            "unknown" => assert!(result.contains("Cecyber stopped"), "{result}"),
            other => panic!("VM {vmid} ended {other}: {result}"),
        }
    }
    assert!(
        states.values().filter(|(s, _)| s == "ok").count() >= 1,
        "{states:?}"
    );

    // The clock set back an hour and forward again: no slot runs a second time.
    clock.set(slot - 3600);
    assert!(second.tick().await.unwrap().is_empty());
    clock.set(slot + 120);
    assert!(second.tick().await.unwrap().is_empty());
    let third = scheduler(&server, &clock);
    assert!(third.tick().await.unwrap().is_empty());
    assert_eq!(runs(&server, id).await.len(), 1);
    assert_eq!(tasks_of(&admin, "qmshutdown").await, tasks);
}

#[tokio::test]
async fn a_run_left_by_a_dead_runner_is_finished_without_asking_pve_twice() {
    let server = start().await;
    let admin = server.log_in("admin", ADMIN_PASSWORD).await;
    let vms = vms_with(&admin, "running", 3).await;
    let (pending, sending, started) = (vms[0], vms[1], vms[2]);
    let id = save(
        &admin,
        &[
            ("action", "shutdown"),
            ("target", &join(&vms)),
            ("calendar", "daily"),
        ],
    )
    .await
    .unwrap();
    let (_, slot) = next_slot(&server, id).await;
    // The task the dead runner had started for one guest.
    let node = node_of(&admin, started).await;
    let (status, task) = admin
        .call(
            "vm_power",
            &[
                ("cluster", "demo"),
                ("node", &node),
                ("vmid", &started.to_string()),
                ("action", "shutdown"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{task}");
    // What a runner that died leaves: the slot claimed, one guest not asked yet, one whose
    // request was on its way, one with its task started; its last heartbeat long ago.
    let heartbeat = slot + 5;
    let left = [
        (pending, "pending", None),
        (sending, "sending", None),
        (started, "running", task["upid"].as_str()),
    ];
    abandon(&server, &admin, id, slot, heartbeat, &left).await;

    // Not stale yet: left alone.
    let clock = Arc::new(ManualClock::at(heartbeat + STALE_SECS - 1));
    let scheduler = scheduler(&server, &clock);
    assert!(scheduler.tick().await.unwrap().is_empty());
    clock.advance(2);
    let takeovers = scheduler.tick().await.unwrap();
    assert_eq!(takeovers.len(), 1);
    for handle in takeovers {
        tokio::time::timeout(Duration::from_secs(60), handle)
            .await
            .unwrap()
            .unwrap();
    }
    let states = guests(&server, id, slot).await;
    let tasks = tasks_of(&admin, "qmshutdown").await;
    assert_eq!(states[&pending].0, "ok", "{states:?}");
    assert_eq!(
        tasks.get(&pending),
        Some(&1),
        "the pending guest is shut down once"
    );
    assert_eq!(states[&sending].0, "unknown", "{states:?}");
    assert_eq!(
        tasks.get(&sending),
        None,
        "the guest in doubt is not asked again"
    );
    assert_eq!(states[&started], ("ok".to_owned(), "OK".to_owned()));
    assert_eq!(
        tasks.get(&started),
        Some(&1),
        "the started task is followed, not repeated"
    );
    assert_eq!(
        runs(&server, id).await,
        [(Some(slot), "partial".to_owned())]
    );
}

#[tokio::test]
async fn a_live_run_taken_over_after_a_clock_jump_acts_on_no_guest_twice() {
    // Thirty VMs: more running guests than a runner acts on at once, so some are still
    // pending when the run changes hands.
    let server = support::start_with(&[
        ("CECYBER_RUN_SCHEDULES", "false"),
        ("CECYBER_DEMO__VMS", "30"),
    ])
    .await;
    let admin = server.log_in("admin", ADMIN_PASSWORD).await;
    let vms = vms_with(&admin, "running", 8).await;
    let id = save(
        &admin,
        &[
            ("action", "shutdown"),
            ("target", &join(&vms)),
            ("calendar", "daily"),
        ],
    )
    .await
    .unwrap();
    let (_, slot) = next_slot(&server, id).await;
    let clock = Arc::new(ManualClock::at(slot + 1));
    let first = scheduler(&server, &clock);
    let mut runners = first.tick().await.unwrap();
    let alive = runners.pop().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !guests(&server, id, slot)
        .await
        .values()
        .any(|(s, _)| s == "running")
    {
        assert!(tokio::time::Instant::now() < deadline, "no task started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The clock jumps forward: the live run's heartbeat looks stale. Its own scheduler does not
    // take it over; another instance does, while the first runner still works.
    let second = scheduler(&server, &clock);
    let mut takeovers = Vec::new();
    // The first runner's heartbeat (every 5 s) may land between the jump and the tick and
    // make the run fresh again: the clock then jumps once more.
    for _ in 0..3 {
        clock.advance(STALE_SECS + 1);
        assert!(
            first.tick().await.unwrap().is_empty(),
            "not taken over by its own process"
        );
        takeovers = second.tick().await.unwrap();
        if !takeovers.is_empty() {
            break;
        }
    }
    assert_eq!(takeovers.len(), 1);
    for handle in takeovers.into_iter().chain([alive]) {
        tokio::time::timeout(Duration::from_secs(90), handle)
            .await
            .expect("both runners end")
            .unwrap();
    }
    let states = guests(&server, id, slot).await;
    let tasks = tasks_of(&admin, "qmshutdown").await;
    for vmid in &vms {
        let n = tasks.get(vmid).copied().unwrap_or(0);
        assert!(n <= 1, "VM {vmid} was shut down {n} times: {states:?}");
        let (state, result) = &states[vmid];
        assert!(
            matches!(state.as_str(), "ok" | "unknown"),
            "VM {vmid} ended {state}: {result}"
        );
    }
    assert_eq!(runs(&server, id).await.len(), 1);
    assert_ne!(runs(&server, id).await[0].1, "running");
}

#[tokio::test]
async fn a_run_taken_over_after_its_grace_asks_pve_for_nothing_more() {
    let server = start().await;
    let admin = server.log_in("admin", ADMIN_PASSWORD).await;
    let vms = vms_with(&admin, "running", 1).await;
    let id = save(
        &admin,
        &[
            ("action", "stop"),
            ("target", &join(&vms)),
            ("grace_minutes", "5"),
        ],
    )
    .await
    .unwrap();
    let (_, slot) = next_slot(&server, id).await;
    abandon(
        &server,
        &admin,
        id,
        slot,
        slot + 1,
        &[(vms[0], "pending", None)],
    )
    .await;
    // Cecyber comes back a day later, a minute before that day's slot.
    let clock = Arc::new(ManualClock::at(slot + 86_400 - 60));
    for handle in scheduler(&server, &clock).tick().await.unwrap() {
        tokio::time::timeout(Duration::from_secs(30), handle)
            .await
            .unwrap()
            .unwrap();
    }
    let states = guests(&server, id, slot).await;
    assert_eq!(states[&vms[0]].0, "failed", "{states:?}");
    assert!(states[&vms[0]].1.contains("after its grace"), "{states:?}");
    assert_eq!(tasks_of(&admin, "qmstop").await.get(&vms[0]), None);
    assert_eq!(runs(&server, id).await, [(Some(slot), "failed".to_owned())]);
}

#[tokio::test]
async fn a_slot_that_comes_while_the_previous_run_still_goes_is_recorded_not_run() {
    let server = start().await;
    let admin = server.log_in("admin", ADMIN_PASSWORD).await;
    let vms = vms_with(&admin, "running", 1).await;
    let id = save(
        &admin,
        &[
            ("action", "shutdown"),
            ("target", &join(&vms)),
            ("calendar", "*:0/10"),
        ],
    )
    .await
    .unwrap();
    let (_, first) = next_slot(&server, id).await;
    let second = When::parse("*:0/10", "UTC")
        .unwrap()
        .next_after(first)
        .unwrap();
    let clock = Arc::new(ManualClock::at(first + 1));
    let scheduler = scheduler(&server, &clock);
    let running = scheduler.tick().await.unwrap();
    assert_eq!(running.len(), 1);
    // The next slot comes while the shutdown is still under way.
    clock.set(second + 1);
    assert!(scheduler.tick().await.unwrap().is_empty(), "no second run");
    for handle in running {
        tokio::time::timeout(Duration::from_secs(60), handle)
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(
        runs(&server, id).await,
        [
            (Some(first), "ok".to_owned()),
            (Some(second), "missed".to_owned())
        ]
    );
    let (_, listed) = admin
        .call("schedule_runs", &[("id", &id.to_string())])
        .await;
    assert!(
        listed[0]["message"]
            .as_str()
            .unwrap()
            .contains("previous run was still going"),
        "{listed}"
    );
    assert_eq!(tasks_of(&admin, "qmshutdown").await.get(&vms[0]), Some(&1));
}

#[tokio::test]
async fn slots_missed_while_nothing_ran_are_recorded_and_only_the_latest_runs_late() {
    let server = start().await;
    let admin = server.log_in("admin", ADMIN_PASSWORD).await;
    let stopped = vms_with(&admin, "stopped", 1).await;
    // Every 10 minutes, a grace of 5.
    let id = save(
        &admin,
        &[
            ("action", "start"),
            ("target", &join(&stopped)),
            ("calendar", "*:0/10"),
            ("grace_minutes", "5"),
        ],
    )
    .await
    .unwrap();
    let (from, first_slot) = next_slot(&server, id).await;
    let when = When::parse("*:0/10", "UTC").unwrap();
    let mut slots = vec![first_slot];
    for _ in 0..5 {
        slots.push(when.next_after(*slots.last().unwrap()).unwrap());
    }
    assert!(from < slots[0]);
    // Cecyber "was down" from before the first slot until 2 minutes after the sixth.
    let clock = Arc::new(ManualClock::at(slots[5] + 120));
    let scheduler = scheduler(&server, &clock);
    let started = scheduler.tick().await.unwrap();
    assert_eq!(started.len(), 1, "only the latest slot runs late");
    for handle in started {
        tokio::time::timeout(Duration::from_secs(60), handle)
            .await
            .unwrap()
            .unwrap();
    }
    let rows = runs(&server, id).await;
    let expected: Vec<(Option<i64>, String)> = slots
        .iter()
        .enumerate()
        .map(|(i, s)| (Some(*s), if i < 5 { "missed" } else { "ok" }.to_owned()))
        .collect();
    assert_eq!(rows, expected);
    assert_eq!(tasks_of(&admin, "qmstart").await.get(&stopped[0]), Some(&1));

    // Past the grace: the slot is recorded as missed and nothing runs.
    let late = when.next_after(slots[5]).unwrap();
    clock.set(late + 6 * 60);
    assert!(scheduler.tick().await.unwrap().is_empty());
    let rows = runs(&server, id).await;
    assert_eq!(rows.last().unwrap(), &(Some(late), "missed".to_owned()));
    let (status, listed) = admin
        .call("schedule_runs", &[("id", &id.to_string())])
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert!(
        listed[0]["message"]
            .as_str()
            .unwrap()
            .contains("grace of 5 min"),
        "{listed}"
    );
}

#[tokio::test]
async fn bad_input_is_refused_before_anything_is_stored() {
    let server = start().await;
    let admin = server.log_in("admin", ADMIN_PASSWORD).await;
    let vm = vms_with(&admin, "running", 1).await;
    let vm = join(&vm);
    // Each case: the fields that differ from a good schedule of `vm`, and what the error says.
    let cases: [(&[(&str, &str)], &str); 7] = [
        (
            &[("calendar", "mon..fri 12:60")],
            "invalid calendar event \"mon..fri 12:60\"",
        ),
        (&[("timezone", "America/Atlantis")], "unknown time zone"),
        (&[("calendar", "2020-01-01 10:00")], "has no run after now"),
        (
            &[("target", "999999")],
            "there is no guest 999999 in cluster demo",
        ),
        (
            &[("target_kind", "tag"), ("target", "no-such-tag")],
            "selects no guest",
        ),
        (&[("action", "explode")], "unknown power action"),
        (&[("name", " ")], "name"),
    ];
    for (changes, text) in cases {
        let mut fields = vec![("target", vm.as_str())];
        fields.extend_from_slice(changes);
        let (status, body) = save(&admin, &fields).await.expect_err("refused");
        assert_eq!(
            error_kind(&body),
            "InvalidInput",
            "{fields:?}: {status} {body}"
        );
        let message = error_text(&body);
        assert!(message.contains(text), "{fields:?}: {message}");
    }
    let (status, list) = admin.call("schedules_list", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["schedules"], serde_json::json!([]), "nothing stored");

    // The preview tells the same, and reads a good calendar in its zone.
    let (status, body) = admin
        .call(
            "schedule_preview",
            &[
                ("calendar", "mon..fri 07:30"),
                ("timezone", "America/Sao_Paulo"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let runs = body.as_array().unwrap();
    assert_eq!(runs.len(), 5);
    for run in runs {
        let local = run["local"].as_str().unwrap();
        assert!(
            local.ends_with("07:30 -03") && !local.starts_with("Sat") && !local.starts_with("Sun"),
            "{local}"
        );
    }
    let (status, _) = admin
        .call(
            "schedule_preview",
            &[("calendar", "sat 7"), ("timezone", "UTC")],
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "`sat 7`: minute 7 of every hour on Saturdays"
    );
    let (status, body) = admin
        .call(
            "schedule_preview",
            &[("calendar", "*/61"), ("timezone", "UTC")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn viewers_and_scoped_operators_are_kept_to_what_they_may_touch() {
    let server = start().await;
    let admin_cookie = server.admin().await;
    let admin = server.log_in("admin", ADMIN_PASSWORD).await;
    // A tag that some running VM carries, and a running VM without it.
    let (_, list) = admin.call("vms_list", &[("query[per]", "200")]).await;
    let vms = list["vms"].as_array().unwrap();
    let tagged = vms
        .iter()
        .find(|v| v["tags"].as_array().is_some_and(|t| !t.is_empty()) && v["kind"] == "qemu")
        .unwrap_or_else(|| panic!("a tagged VM: {list}"));
    let tag = tagged["tags"][0].as_str().unwrap().to_owned();
    let outside = vms
        .iter()
        .find(|v| {
            v["kind"] == "qemu"
                && !v["tags"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|t| t.as_str() == Some(tag.as_str()))
        })
        .unwrap();
    let (tagged, outside) = (tagged["vmid"].to_string(), outside["vmid"].to_string());

    server.user(&admin_cookie, "olga", "operator").await;
    let (status, body) = admin
        .call(
            "users_set_scope",
            &[("username", "olga"), ("scope", tag.as_str())],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let olga = server.log_in("olga", USER_PASSWORD).await;
    server.user(&admin_cookie, "vera", "viewer").await;
    let vera = server.log_in("vera", USER_PASSWORD).await;

    // Nobody logged in: every schedule function answers 401.
    let anonymous = server.browser();
    for endpoint in [
        "schedules_list",
        "schedule_preview",
        "schedule_save",
        "schedule_enable",
        "schedule_delete",
        "schedule_run_now",
        "schedule_runs",
    ] {
        // Arguments every one of them decodes (the others' are ignored), so that the refusal
        // is the session check's, not the decoder's.
        let fields = [
            ("id", "1"),
            ("enabled", "true"),
            ("calendar", "daily"),
            ("timezone", "UTC"),
            ("form[id]", "0"),
            ("form[name]", "x"),
            ("form[cluster]", "demo"),
            ("form[action]", "stop"),
            ("form[target_kind]", "vms"),
            ("form[target]", "100"),
            ("form[calendar]", "daily"),
            ("form[timezone]", "UTC"),
            ("form[grace_minutes]", "5"),
            ("form[enabled]", "true"),
        ];
        let (status, body) = anonymous.call(endpoint, &fields).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{endpoint}: {body}");
    }

    let admins = save(&admin, &[("name", "admins"), ("target", &outside)])
        .await
        .unwrap();
    // A viewer sees the list but changes nothing.
    let (status, body) = vera.call("schedules_list", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = save(&vera, &[("target", &tagged)]).await.unwrap_err();
    assert_eq!(
        (status, error_kind(&body).as_str()),
        (StatusCode::FORBIDDEN, "Forbidden")
    );
    for endpoint in ["schedule_run_now", "schedule_delete"] {
        let (status, _) = vera.call(endpoint, &[("id", &admins.to_string())]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{endpoint}");
    }

    // The scoped operator: their tag and their VMs only, never a pool.
    let own = save(
        &olga,
        &[("name", "olga's"), ("target_kind", "tag"), ("target", &tag)],
    )
    .await
    .unwrap();
    save(&olga, &[("name", "by id"), ("target", &tagged)])
        .await
        .unwrap();
    // A guest outside the scope answers exactly like one that does not exist.
    let (status, body) = save(&olga, &[("target", &outside)]).await.unwrap_err();
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        error_text(&body),
        format!("there is no guest {outside} in cluster demo in your scope.")
    );
    let (_, body) = save(&olga, &[("target", "999999")]).await.unwrap_err();
    assert_eq!(
        error_text(&body),
        "there is no guest 999999 in cluster demo in your scope."
    );
    let (status, _) = save(&olga, &[("target_kind", "tag"), ("target", "other-tenant")])
        .await
        .unwrap_err();
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = save(&olga, &[("target_kind", "pool"), ("target", "prod")])
        .await
        .unwrap_err();
    assert_eq!(status, StatusCode::FORBIDDEN);

    // They see only their own schedules, and the admin's answers as if it did not exist.
    let (_, list) = olga.call("schedules_list", &[]).await;
    let names: Vec<&str> = list["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["olga's", "by id"]);
    for endpoint in ["schedule_run_now", "schedule_delete", "schedule_runs"] {
        let (status, _) = olga.call(endpoint, &[("id", &admins.to_string())]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{endpoint}");
    }
    let (status, _) = olga
        .call(
            "schedule_enable",
            &[("id", &admins.to_string()), ("enabled", "false")],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Saving over the admin's schedule (its id in the form) is refused the same way.
    let (status, _) = save(
        &olga,
        &[
            ("id", &admins.to_string()),
            ("name", "mine now"),
            ("target", &tagged),
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = vera
        .call(
            "schedule_enable",
            &[("id", &admins.to_string()), ("enabled", "false")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = olga
        .call(
            "schedule_enable",
            &[("id", &own.to_string()), ("enabled", "false")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // An admin sees every schedule, the admin's unchanged.
    let (_, list) = admin.call("schedules_list", &[]).await;
    let schedules = list["schedules"].as_array().unwrap();
    assert_eq!(schedules.len(), 3);
    assert_eq!(schedules[0]["name"], "admins");
    assert_eq!(schedules[0]["enabled"], true);

    // A deleted owner's schedules pass to nobody, not to a new user of that name.
    let (status, body) = admin.call("users_delete", &[("username", "olga")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    server.user(&admin_cookie, "olga", "operator").await;
    let olga = server.log_in("olga", USER_PASSWORD).await;
    let (_, list) = admin.call("schedules_list", &[]).await;
    let owners: Vec<&str> = list["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["owner"].as_str().unwrap())
        .collect();
    assert_eq!(owners, ["admin", "", ""]);
    let (status, _) = olga
        .call("schedule_runs", &[("id", &own.to_string())])
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "an unscoped operator sees every schedule"
    );
}
