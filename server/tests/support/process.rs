//! The `cecyber` binary as a process of its own, in demo mode, as a user starts it: for tests
//! that must survive what would hang or kill an in-process server (a deadlocked render, `kill -9`,
//! SIGTERM).

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use tokio::process::{Child, Command};

use super::{ADMIN_PASSWORD, Api};

/// A running `cecyber` process; killed when dropped.
pub struct ServerProcess {
    pub api: Api,
    pub addr: SocketAddr,
    /// Where its database and log are.
    pub dir: PathBuf,
    child: Child,
    env: Vec<(String, String)>,
}

impl std::ops::Deref for ServerProcess {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

/// A fresh directory for one server's database and log.
pub fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "cecyber-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

/// The workspace's built browser files (pages render without them; the server wants a root).
fn site_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/site")
}

impl ServerProcess {
    /// Starts `cecyber` in demo mode with its database in `dir` and `env` on top of the test
    /// defaults; waits until `/healthz` answers.
    pub async fn start(dir: &Path, env: &[(&str, &str)]) -> Self {
        let addr = free_port();
        let mut vars: Vec<(String, String)> = vec![
            ("CECYBER_LISTEN".into(), addr.to_string()),
            (
                "CECYBER_DATABASE_URL".into(),
                format!("sqlite://{}/cecyber.db", dir.display()),
            ),
            (
                "CECYBER_SITE_ROOT".into(),
                site_root().display().to_string(),
            ),
            ("CECYBER_ADMIN_PASSWORD".into(), ADMIN_PASSWORD.into()),
            ("CECYBER_LOGIN_FAILURE_DELAY_MS".into(), "10".into()),
            ("CECYBER_FORCE_DEMO".into(), "true".into()),
        ];
        vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let child = spawn(dir, &vars);
        let mut server = Self {
            api: Api::new(format!("http://{addr}")),
            addr,
            dir: dir.to_owned(),
            child,
            env: vars,
        };
        server.wait_healthy().await;
        server
    }

    async fn wait_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let http = reqwest::Client::new();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("cecyber exited ({status}); log:\n{}", self.log());
            }
            let up = http
                .get(format!("{}/healthz", self.base))
                .timeout(Duration::from_secs(1))
                .send()
                .await;
            if up.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "cecyber did not start; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The process's output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    /// Sends `signal` (`"TERM"`, `"KILL"`, …) and waits up to `within` for the exit; the exit
    /// status, or `None` if it was still running then.
    pub async fn signal(
        &mut self,
        signal: &str,
        within: Duration,
    ) -> Option<std::process::ExitStatus> {
        let sent = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill");
        assert!(sent.success(), "kill -{signal} failed");
        tokio::time::timeout(within, self.child.wait())
            .await
            .ok()
            .map(|status| status.expect("wait"))
    }

    /// Starts the same server again (same port, database and settings) after it ended.
    pub async fn restart(&mut self) {
        self.child = spawn(&self.dir, &self.env);
        self.wait_healthy().await;
    }
}

fn spawn(dir: &Path, vars: &[(String, String)]) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))
        .expect("server log");
    // `CECYBER_TEST_BINARY` runs another build (e.g. an older one, to see a test fail there).
    let binary = std::env::var("CECYBER_TEST_BINARY")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_cecyber").to_owned());
    let mut command = Command::new(binary);
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("CECYBER_")) {
        // Only the settings given here reach the server.
        command.env_remove(key);
    }
    command
        .current_dir(dir)
        .env("RUST_LOG", "info,sqlx=warn")
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("server log"))
        .stderr(log)
        .kill_on_drop(true);
    command.spawn().expect("cecyber process")
}
