//! VNC authentication (RFB security type 2), the server's side: checking a viewer's answer to
//! the challenge (the answer itself is [`crate::vnc_auth`]'s).

use crate::vnc_auth::vnc_auth_response as response;

/// True if `answer` is the right response to `challenge` for `password`.
pub(crate) fn verify(password: &[u8], challenge: &[u8; 16], answer: &[u8]) -> bool {
    let expected = response(password, challenge);
    answer.len() == 16
        && expected
            .iter()
            .zip(answer)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHALLENGE: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

    #[test]
    fn the_right_answer_only_verifies() {
        let expected = response(b"password", &CHALLENGE);
        assert!(verify(b"password", &CHALLENGE, &expected));
        assert!(!verify(b"passwore", &CHALLENGE, &expected));
        assert!(!verify(b"password", &CHALLENGE, &expected[..15]));
    }

    /// Like QEMU, only the first 8 bytes count: a new-style PVE ticket
    /// (`<password>:PVEVNC:…`) works as the password.
    #[test]
    fn only_eight_bytes_count() {
        let r = response(b"password", &CHALLENGE);
        assert_eq!(response(b"password:PVEVNC:6A4BB5CD::sig", &CHALLENGE), r);
        assert_ne!(response(b"pass", &CHALLENGE), r);
        assert_eq!(
            response(b"pass", &CHALLENGE),
            response(b"pass\0\0\0\0", &CHALLENGE)
        );
    }
}
