//! VNC tickets as pve-access-control makes them since 9.1.7 / 8.4.7:
//! `PVEVNC:<HEX time>::<signature>`, the signature covering `PVEVNC:<HEX time>` plus the
//! secret data `<authid>:<path>:<port>` (the user is not in the ticket). vncproxy prefixes the
//! ticket with the 8-character VNC password and a colon. Valid from 20 s in the future to 40 s
//! old (`verify_rsa_ticket(…, -20, 40)`). Signed with HMAC-SHA256 instead of PVE's RSA key.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::{Rng, RngCore};
use sha2::Sha256;

/// Oldest accepted age in seconds (exclusive).
pub(crate) const MAX_AGE: i64 = 40;
/// Tickets from the future are accepted up to this age (exclusive).
const MIN_AGE: i64 = -20;
const PREFIX: &str = "PVEVNC";

/// Signs and checks VNC tickets with a per-run key.
pub(crate) struct VncSigner {
    key: [u8; 32],
}

impl VncSigner {
    /// A fresh random key.
    pub(crate) fn random() -> Self {
        let mut key = [0; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Self { key }
    }

    /// A ticket for `authid` on `path` (`/vms/100`) and `port`, issued at `now`.
    pub(crate) fn ticket(&self, authid: &str, path: &str, port: u16, now: i64) -> String {
        let plain = format!("{PREFIX}:{now:08X}");
        let sig = STANDARD.encode(self.mac(&plain, authid, path, port).finalize().into_bytes());
        format!("{plain}::{sig}")
    }

    /// PVE's `verify_vnc_ticket`: strips a `<8 chars>:` password prefix, then checks signature
    /// and age.
    pub(crate) fn verify(
        &self,
        ticket: &str,
        authid: &str,
        path: &str,
        port: u16,
        now: i64,
    ) -> bool {
        let ticket = match ticket.get(9..) {
            Some(rest) if ticket.as_bytes()[8] == b':' && rest.starts_with("PVEVNC:") => rest,
            _ => ticket,
        };
        let Some((plain, sig)) = ticket.rsplit_once("::") else {
            return false;
        };
        if sig.is_empty() || sig.contains([':', ' ']) || plain.contains(char::is_whitespace) {
            return false;
        }
        let Ok(sig) = STANDARD.decode(sig) else {
            return false;
        };
        if self
            .mac(plain, authid, path, port)
            .verify_slice(&sig)
            .is_err()
        {
            return false;
        }
        let Some(stamp) = plain.strip_prefix("PVEVNC:") else {
            return false;
        };
        let valid_stamp = stamp.len() == 8
            && stamp
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase());
        let Some(issued) = valid_stamp
            .then(|| i64::from_str_radix(stamp, 16).ok())
            .flatten()
        else {
            return false;
        };
        let age = now - issued;
        age > MIN_AGE && age < MAX_AGE
    }

    fn mac(&self, plain: &str, authid: &str, path: &str, port: u16) -> Hmac<Sha256> {
        let mut m = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC accepts any key length");
        m.update(format!("{plain}:{authid}:{path}:{port}").as_bytes());
        m
    }
}

/// PVE's `generate_vnc_password`: 8 characters uniformly from `!` to `` ` ``.
pub(crate) fn generate_password() -> String {
    let mut rng = rand::thread_rng();
    (0..8)
        .map(|_| char::from(rng.gen_range(b'!'..=b'`')))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_783_944_655;

    #[test]
    fn tickets_are_bound_to_user_path_port_and_time() {
        let s = VncSigner::random();
        let t = s.ticket("root@pam", "/vms/100", 5900, NOW);
        assert!(t.starts_with("PVEVNC:6A54D5CF::"), "{t}");
        assert!(s.verify(&t, "root@pam", "/vms/100", 5900, NOW + 39));
        assert!(!s.verify(&t, "root@pam", "/vms/100", 5900, NOW + 40));
        assert!(s.verify(&t, "root@pam", "/vms/100", 5900, NOW - 19));
        assert!(!s.verify(&t, "root@pam", "/vms/100", 5900, NOW - 20));
        assert!(!s.verify(&t, "root@pam", "/vms/100", 5901, NOW));
        assert!(!s.verify(&t, "root@pam", "/vms/101", 5900, NOW));
        assert!(!s.verify(&t, "root@pam!cecyber", "/vms/100", 5900, NOW));
        assert!(!VncSigner::random().verify(&t, "root@pam", "/vms/100", 5900, NOW));
        assert!(!s.verify("", "root@pam", "/vms/100", 5900, NOW));
    }

    #[test]
    fn the_password_prefix_is_stripped() {
        let s = VncSigner::random();
        let pw = generate_password();
        let t = format!("{pw}:{}", s.ticket("u@pve", "/vms/100", 5999, NOW));
        assert!(s.verify(&t, "u@pve", "/vms/100", 5999, NOW));
        assert!(!s.verify(&format!("x{t}"), "u@pve", "/vms/100", 5999, NOW));
    }

    #[test]
    fn passwords_use_the_pve_alphabet() {
        for _ in 0..100 {
            let pw = generate_password();
            assert_eq!(pw.len(), 8);
            assert!(pw.bytes().all(|b| (b'!'..=b'`').contains(&b)), "{pw}");
        }
    }
}
