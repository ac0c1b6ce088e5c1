//! PVE tickets (`PVE:<user>:<HEX time>::<base64 signature>`) and CSRF prevention tokens
//! (`<HEX time>:<base64 HMAC>`), signed with per-run HMAC-SHA256 keys instead of PVE's RSA key.
//! Validity as in pve-access-control: 2 h, with 5 min of clock skew allowed.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// Ticket lifetime in seconds.
pub(crate) const TICKET_LIFETIME: i64 = 7200;
/// Tickets from up to this many seconds in the future are accepted.
const CLOCK_SKEW: i64 = 300;

type HmacSha256 = Hmac<Sha256>;

/// Signs and checks tickets and CSRF tokens.
pub(crate) struct Signer {
    ticket_key: [u8; 32],
    csrf_key: [u8; 32],
}

impl Signer {
    /// Fresh random keys: tickets of an earlier run are invalid.
    pub(crate) fn random() -> Self {
        let mut s = Self {
            ticket_key: [0; 32],
            csrf_key: [0; 32],
        };
        rand::rngs::OsRng.fill_bytes(&mut s.ticket_key);
        rand::rngs::OsRng.fill_bytes(&mut s.csrf_key);
        s
    }

    /// A ticket for `user`, issued at `now`.
    pub(crate) fn ticket(&self, user: &str, now: i64) -> String {
        // PVE URI-escapes ':' in the ticket data.
        let plain = format!("PVE:{}:{:08X}", user.replace(':', "%3A"), now);
        let sig = STANDARD.encode(mac(&self.ticket_key, &plain).finalize().into_bytes());
        format!("{plain}::{sig}")
    }

    /// The user of a valid ticket younger than `lifetime` seconds.
    pub(crate) fn verify_ticket(&self, ticket: &str, now: i64, lifetime: i64) -> Option<String> {
        let (plain, sig) = ticket.rsplit_once("::")?;
        if sig.is_empty() || sig.contains([':', ' ']) || plain.contains(char::is_whitespace) {
            return None;
        }
        let sig = STANDARD.decode(sig).ok()?;
        mac(&self.ticket_key, plain).verify_slice(&sig).ok()?;
        let rest = plain.strip_prefix("PVE:")?;
        let (data, stamp) = rest.rsplit_once(':')?;
        let age = now - parse_stamp(stamp)?;
        (age > -CLOCK_SKEW && age < lifetime && !data.is_empty()).then(|| data.replace("%3A", ":"))
    }

    /// A CSRF prevention token for `user`, issued at `now`.
    pub(crate) fn csrf_token(&self, user: &str, now: i64) -> String {
        let stamp = format!("{now:08X}");
        let digest = mac(&self.csrf_key, &format!("{stamp}:{user}"))
            .finalize()
            .into_bytes();
        format!("{stamp}:{}", STANDARD_NO_PAD.encode(digest))
    }

    /// True if `token` is a valid, unexpired CSRF token for `user`.
    pub(crate) fn verify_csrf(&self, user: &str, token: &str, now: i64) -> bool {
        let Some((stamp, sig)) = token.split_once(':') else {
            return false;
        };
        let (Some(issued), Ok(sig)) = (parse_stamp(stamp), STANDARD_NO_PAD.decode(sig)) else {
            return false;
        };
        let age = now - issued;
        mac(&self.csrf_key, &format!("{stamp}:{user}"))
            .verify_slice(&sig)
            .is_ok()
            && age > -CLOCK_SKEW
            && age < TICKET_LIFETIME
    }
}

fn mac(key: &[u8], data: &str) -> HmacSha256 {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC accepts any key length");
    m.update(data.as_bytes());
    m
}

/// PVE's `[A-Z0-9]{8}` hex timestamp.
fn parse_stamp(s: &str) -> Option<i64> {
    (s.len() == 8
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)))
    .then(|| i64::from_str_radix(s, 16).ok())
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_783_944_655;

    #[test]
    fn ticket_round_trip_and_expiry() {
        let s = Signer::random();
        let t = s.ticket("root@pam", NOW);
        assert!(t.starts_with("PVE:root@pam:6A54D5CF::"), "{t}");
        assert_eq!(
            s.verify_ticket(&t, NOW + 10, TICKET_LIFETIME).as_deref(),
            Some("root@pam")
        );
        assert_eq!(
            s.verify_ticket(&t, NOW + TICKET_LIFETIME, TICKET_LIFETIME),
            None
        );
        assert_eq!(s.verify_ticket(&t, NOW - 400, TICKET_LIFETIME), None);
        let forged = t.replace("root@pam", "auditor@pve");
        assert_eq!(s.verify_ticket(&forged, NOW, TICKET_LIFETIME), None);
        assert_eq!(
            Signer::random().verify_ticket(&t, NOW, TICKET_LIFETIME),
            None
        );
        assert_eq!(s.verify_ticket("garbage", NOW, TICKET_LIFETIME), None);
        assert_eq!(s.verify_ticket(&t, NOW + 31, 30), None);
        assert!(s.verify_ticket(&t, NOW + 29, 30).is_some());
    }

    #[test]
    fn csrf_is_bound_to_user() {
        let s = Signer::random();
        let c = s.csrf_token("root@pam", NOW);
        assert_eq!(c.len(), 8 + 1 + 43, "{c}");
        assert!(s.verify_csrf("root@pam", &c, NOW + 60));
        assert!(!s.verify_csrf("auditor@pve", &c, NOW + 60));
        assert!(!s.verify_csrf("root@pam", &c, NOW + TICKET_LIFETIME + 1));
        assert!(!s.verify_csrf("root@pam", "", NOW));
    }
}
