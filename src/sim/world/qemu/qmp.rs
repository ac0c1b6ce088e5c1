//! A minimal QMP client (QEMU Machine Protocol): JSON lines over QEMU's unix socket, the
//! greeting and `qmp_capabilities`, then commands; events arriving in between are skipped.

use std::io;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

/// An open QMP session in command mode.
pub(crate) struct Qmp {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    line: String,
}

impl Qmp {
    /// Connects to `path`, retrying while QEMU creates the socket (up to `wait`), and leaves
    /// capabilities negotiation mode.
    pub(crate) async fn connect(path: &Path, wait: Duration) -> io::Result<Self> {
        let deadline = tokio::time::Instant::now() + wait;
        let stream = loop {
            match UnixStream::connect(path).await {
                Ok(s) => break s,
                Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        };
        let (r, w) = stream.into_split();
        let mut qmp = Self {
            reader: BufReader::new(r),
            writer: w,
            line: String::new(),
        };
        let greeting = qmp.read().await?;
        if greeting.get("QMP").is_none() {
            return Err(io::Error::other(format!("no QMP greeting: {greeting}")));
        }
        qmp.execute("qmp_capabilities", Value::Null).await?;
        Ok(qmp)
    }

    /// Runs `command` with `arguments` (`Null`: none); answers its `return` value, or the
    /// error's description.
    pub(crate) async fn execute(&mut self, command: &str, arguments: Value) -> io::Result<Value> {
        let mut msg = json!({ "execute": command });
        if !arguments.is_null() {
            msg["arguments"] = arguments;
        }
        let mut bytes = serde_json::to_vec(&msg).map_err(io::Error::other)?;
        bytes.push(b'\n');
        self.writer.write_all(&bytes).await?;
        loop {
            let answer = self.read().await?;
            if let Some(ret) = answer.get("return") {
                return Ok(ret.clone());
            }
            if let Some(err) = answer.get("error") {
                let desc = err["desc"].as_str().unwrap_or("QMP error");
                return Err(io::Error::other(format!("{command}: {desc}")));
            }
            // An event: not ours.
        }
    }

    async fn read(&mut self) -> io::Result<Value> {
        self.line.clear();
        if self.reader.read_line(&mut self.line).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "QMP socket closed",
            ));
        }
        serde_json::from_str(&self.line).map_err(io::Error::other)
    }
}
