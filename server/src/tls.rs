//! Built-in HTTPS: the certificate chain and private key from PEM files (`[tls]`), replaced
//! without a restart. [`Certificates::reload`] is what SIGHUP and a change of either file (its
//! modification time, size or inode, looked at every [`WATCH_EVERY`]) call; open connections keep
//! the certificate they were made with, new ones get the new one. A reload that fails (a file
//! half written, a key that does not match) keeps the old certificate and logs an error.

use std::{
    fmt, fs,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, PoisonError, RwLock},
    time::{Duration, SystemTime},
};

use rustls::{
    ServerConfig,
    crypto::{CryptoProvider, ring},
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    server::{ClientHello, ResolvesServerCert},
    sign::CertifiedKey,
};
use tokio_rustls::TlsAcceptor;

use crate::shutdown::Shutdown;

/// How often the files' modification times are looked at.
pub const WATCH_EVERY: Duration = Duration::from_secs(2);

/// Why a certificate could not be loaded; names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read, or holds no usable PEM.
    #[error("TLS file {}: {reason}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The private key does not belong to the certificate.
    #[error("TLS key {} does not match the certificate in {}: {reason}", key.display(), cert.display())]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls's words.
        reason: String,
    },
}

/// What a file looked like: modified, length, inode (a file replaced by a rename is new).
type FileStamp = Option<(SystemTime, u64, u64)>;

/// What the certificate and key files looked like.
type Stamp = [FileStamp; 2];

/// The certificate being served, and the files it comes from. The TLS acceptor asks it for
/// the current certificate on every handshake.
pub struct Certificates {
    cert_file: PathBuf,
    key_file: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
    /// The files' stamp before the last read, successful or not: a change after it is looked at.
    seen: Mutex<Stamp>,
}

impl fmt::Debug for Certificates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificates")
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .finish_non_exhaustive()
    }
}

impl Certificates {
    /// Reads the certificate chain and key; an error names the file that is wrong.
    pub fn load(cert_file: &Path, key_file: &Path) -> Result<Arc<Self>, TlsError> {
        let provider = Arc::new(ring::default_provider());
        let stamp = stamp(cert_file, key_file);
        let key = read(cert_file, key_file, &provider)?;
        Ok(Arc::new(Self {
            cert_file: cert_file.to_owned(),
            key_file: key_file.to_owned(),
            provider,
            current: RwLock::new(Arc::new(key)),
            seen: Mutex::new(stamp),
        }))
    }

    /// Reads the files again and serves what they hold from the next handshake on; on an
    /// error the certificate in use stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner) =
            stamp(&self.cert_file, &self.key_file);
        let key = read(&self.cert_file, &self.key_file, &self.provider)?;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(key);
        Ok(())
    }

    /// [`Certificates::reload`] if either file changed since the last read; `None` if not.
    pub fn reload_if_changed(&self) -> Option<Result<(), TlsError>> {
        let now = stamp(&self.cert_file, &self.key_file);
        let changed = *self.seen.lock().unwrap_or_else(PoisonError::into_inner) != now;
        changed.then(|| self.reload())
    }

    /// The certificate chain served now (the end-entity certificate first).
    pub fn chain(&self) -> Vec<CertificateDer<'static>> {
        self.current().cert.clone()
    }

    fn current(&self) -> Arc<CertifiedKey> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// A TLS acceptor serving the current certificate, for HTTP/1.1.
    pub fn acceptor(self: &Arc<Self>) -> Result<TlsAcceptor, rustls::Error> {
        let mut config = ServerConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(self) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }

    /// Reloads and logs the outcome; `why` says what asked for it.
    fn reload_logged(&self, result: Result<(), TlsError>, why: &str) {
        match result {
            Ok(()) => tracing::info!(
                cert_file = %self.cert_file.display(),
                trigger = why,
                "TLS certificate reloaded"
            ),
            Err(e) => tracing::error!(
                trigger = why,
                "TLS certificate not reloaded, the old one stays in use: {e}"
            ),
        }
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// Reloads `certs` on SIGHUP and when the files change, until `stopping`.
pub async fn watch(certs: Arc<Certificates>, every: Duration, stopping: Shutdown) {
    let mut hangup = hangups();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if let Some(result) = certs.reload_if_changed() {
                    certs.reload_logged(result, "the files changed");
                }
            }
            Some(()) = hangup.recv() => certs.reload_logged(certs.reload(), "SIGHUP"),
            () = stopping.begun() => return,
        }
    }
}

/// Without TLS there is nothing to reload, but a SIGHUP (`systemctl reload cecyber`) must not
/// end the server, as the signal's default action would: it is logged instead. Once handled,
/// the signal stays handled for the life of the process, after `stopping` too.
pub async fn ignore_hangups(stopping: Shutdown) {
    let mut hangup = hangups();
    loop {
        tokio::select! {
            Some(()) = hangup.recv() => {
                tracing::info!("SIGHUP: nothing to reload (no [tls] certificate is configured)");
            }
            () = stopping.begun() => return,
        }
    }
}

/// SIGHUPs as a channel (none off Unix, or if the handler cannot be installed).
fn hangups() -> tokio::sync::mpsc::Receiver<()> {
    let (send, receive) = tokio::sync::mpsc::channel(1);
    #[cfg(unix)]
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(mut signal) => {
            tokio::spawn(async move {
                while signal.recv().await.is_some() {
                    // Several signals before one reload are one reload.
                    let _ = send.try_send(());
                    if send.is_closed() {
                        return;
                    }
                }
            });
        }
        Err(e) => tracing::warn!(error = %e, "no SIGHUP handler: TLS files reload on change only"),
    }
    #[cfg(not(unix))]
    drop(send);
    receive
}

fn stamp(cert_file: &Path, key_file: &Path) -> Stamp {
    let of = |path: &Path| {
        let meta = fs::metadata(path).ok()?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0;
        Some((meta.modified().ok()?, meta.len(), inode))
    };
    [of(cert_file), of(key_file)]
}

/// Reads and checks a chain and its key.
fn read(
    cert_file: &Path,
    key_file: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let bad = |path: &Path, reason: String| TlsError::File {
        path: path.to_owned(),
        reason,
    };
    let cert_pem = fs::read(cert_file).map_err(|e| bad(cert_file, e.to_string()))?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(cert_file, format!("not a PEM certificate chain: {e}")))?;
    if chain.is_empty() {
        return Err(bad(
            cert_file,
            "no PEM certificate (BEGIN CERTIFICATE) in it".into(),
        ));
    }
    let key_pem = fs::read(key_file).map_err(|e| bad(key_file, e.to_string()))?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| bad(key_file, format!("no usable PEM private key: {e}")))?;
    let key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| bad(key_file, format!("unusable private key: {e}")))?;
    let certified = CertifiedKey::new(chain, key);
    certified.keys_match().map_err(|e| TlsError::Mismatch {
        cert: cert_file.to_owned(),
        key: key_file.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(certified)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed certificate for `name`: (certificate PEM, key PEM).
    fn self_signed(name: &str) -> (String, String) {
        let generated = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
        (generated.cert.pem(), generated.key_pair.serialize_pem())
    }

    fn dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("cecyber-tls-{name}-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn write(dir: &Path, (cert, key): &(String, String)) -> (PathBuf, PathBuf) {
        let (cert_file, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
        replace(&cert_file, cert);
        replace(&key_file, key);
        (cert_file, key_file)
    }

    /// Replaces `path` as tools do: a new file renamed over the old one (a new inode, so the
    /// change is seen even within one tick of the file system's clock).
    fn replace(path: &Path, text: &str) {
        let new = path.with_extension("new");
        fs::write(&new, text).unwrap();
        fs::rename(&new, path).unwrap();
    }

    #[test]
    fn bad_files_at_start_name_the_file() {
        let dir = dir("start");
        let (cert_file, key_file) = write(&dir, &self_signed("a.example"));
        Certificates::load(&cert_file, &key_file).unwrap();

        let missing = dir.join("missing.pem");
        let err = Certificates::load(&missing, &key_file).unwrap_err();
        assert!(err.to_string().contains("missing.pem"), "{err}");

        let junk = dir.join("junk.pem");
        fs::write(&junk, "hello").unwrap();
        let err = Certificates::load(&junk, &key_file).unwrap_err();
        assert!(
            err.to_string().contains("junk.pem") && err.to_string().contains("no PEM certificate"),
            "{err}"
        );
        let err = Certificates::load(&cert_file, &junk).unwrap_err();
        assert!(err.to_string().contains("junk.pem"), "{err}");
        let err = Certificates::load(&cert_file, &cert_file).unwrap_err();
        assert!(
            err.to_string().contains("private key"),
            "a certificate as key: {err}"
        );
    }

    #[test]
    fn a_failed_reload_keeps_the_old_certificate() {
        let dir = dir("reload");
        let first = self_signed("a.example");
        let (cert_file, key_file) = write(&dir, &first);
        let certs = Certificates::load(&cert_file, &key_file).unwrap();
        let served = certs.chain();
        assert!(certs.reload_if_changed().is_none(), "nothing changed");

        // Half-written PEM.
        replace(&cert_file, &first.0[..first.0.len() / 2]);
        assert!(certs.reload().is_err());
        assert_eq!(certs.chain(), served, "bad PEM: the old one stays");

        // A new certificate with the old key.
        let second = self_signed("b.example");
        replace(&cert_file, &second.0);
        let err = certs.reload().unwrap_err();
        assert!(matches!(err, TlsError::Mismatch { .. }), "{err}");
        assert_eq!(
            certs.chain(),
            served,
            "a key that does not match: the old one stays"
        );

        // Then its key too: the change is picked up.
        replace(&key_file, &second.1);
        assert!(matches!(certs.reload_if_changed(), Some(Ok(()))));
        assert_ne!(certs.chain(), served);
        assert!(certs.reload_if_changed().is_none(), "read once");
    }

    #[test]
    fn a_chain_with_an_intermediate_is_served_in_order() {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["a.example".to_owned()])
            .unwrap()
            .signed_by(&leaf_key, &ca, &ca_key)
            .unwrap();
        let dir = dir("chain");
        let pem = format!("{}{}", leaf.pem(), ca.pem());
        let (cert_file, key_file) = write(&dir, &(pem, leaf_key.serialize_pem()));
        let certs = Certificates::load(&cert_file, &key_file).unwrap();
        assert_eq!(
            certs.chain(),
            [leaf.der().clone(), ca.der().clone()],
            "leaf, then the intermediate"
        );
        assert!(certs.acceptor().is_ok());
    }
}
