//! A running VM's display as its built-in VNC server sees it: the shared screen (every viewer
//! sees the same text), change notifications, the screen encoded for the viewers' pixel
//! formats, and the VNC password QEMU would hold (set by each proxy connection, expiring 30 s
//! later for new logins).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

use super::pixel::Encoder;
use super::screen::{Banner, Screen};
use super::update::Frames;
use super::vncauth;

/// QEMU's `expire_password +30`: new logins are refused this long after the password was set.
pub(crate) const PASSWORD_LIFETIME: i64 = 30;

/// One VM's display, for one run of its QEMU process.
pub(crate) struct Display {
    /// `started_at` of the QEMU process this display belongs to.
    pub boot: i64,
    /// Desktop name sent in ServerInit (the VM's name).
    pub name: String,
    screen: Mutex<Screen>,
    /// Locked after `screen`, never before.
    frames: Mutex<Frames>,
    changed: watch::Sender<u64>,
    password: Mutex<Option<(String, i64)>>,
}

impl Display {
    /// A freshly booted display.
    pub(crate) fn new(boot: i64, banner: &Banner<'_>) -> Self {
        let screen = Screen::boot(banner);
        let (changed, _) = watch::channel(screen.version());
        Self {
            boot,
            name: banner.name.to_owned(),
            screen: Mutex::new(screen),
            frames: Mutex::new(Frames::default()),
            changed,
            password: Mutex::new(None),
        }
    }

    /// The screen; never hold the guard across an `.await`.
    pub(crate) fn screen(&self) -> MutexGuard<'_, Screen> {
        self.screen.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The whole screen as a full-screen FramebufferUpdate (Raw) in `encoder`'s format, and
    /// the screen version it shows: encoded once per format and change, shared by all viewers.
    pub(crate) fn full_update(&self, encoder: &Encoder) -> (Arc<Vec<u8>>, u64) {
        let screen = self.screen();
        self.frames
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .full(&screen, encoder)
    }

    /// A receiver that wakes when the screen changes.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Applies a key press and notifies viewers if the screen changed.
    pub(crate) fn key(&self, keysym: u32) {
        let version = {
            let mut s = self.screen();
            s.key(keysym).then(|| s.version())
        };
        if let Some(v) = version {
            self.changed.send_replace(v);
        }
    }

    /// QMP `set_password` + `expire_password +30` at `now`.
    pub(crate) fn set_password(&self, password: &str, now: i64) {
        *self.password.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((password.to_owned(), now + PASSWORD_LIFETIME));
    }

    /// QEMU's check of a VNC authentication answer: a password must be set and unexpired,
    /// and the answer must match its first 8 bytes.
    pub(crate) fn check(&self, challenge: &[u8; 16], answer: &[u8], now: i64) -> bool {
        let guard = self.password.lock().unwrap_or_else(PoisonError::into_inner);
        match &*guard {
            Some((pw, expires)) if now <= *expires => {
                vncauth::verify(pw.as_bytes(), challenge, answer)
            }
            _ => false,
        }
    }
}
