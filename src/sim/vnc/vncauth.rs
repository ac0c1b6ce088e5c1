//! VNC authentication (RFB security type 2): the client DES-encrypts the server's 16-byte
//! challenge with its password as the key. The key is the password's first 8 bytes (padded
//! with zeros) with the bits of each byte reversed, as RFB implementations have always done.

use des::Des;
use des::cipher::generic_array::GenericArray;
use des::cipher::{BlockEncrypt, KeyInit};

/// The response to `challenge` for `password` (only its first 8 bytes count).
pub(crate) fn response(password: &[u8], challenge: &[u8; 16]) -> [u8; 16] {
    let mut key = [0u8; 8];
    for (k, p) in key.iter_mut().zip(password) {
        *k = p.reverse_bits();
    }
    let cipher = Des::new(GenericArray::from_slice(&key));
    let mut out = *challenge;
    for block in out.chunks_exact_mut(8) {
        cipher.encrypt_block(GenericArray::from_mut_slice(block));
    }
    out
}

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

    /// Computed independently with
    /// `openssl enc -des-ecb -K 0e86ceceeef64e26 -nopad -provider legacy` (the key is
    /// "password" with each byte's bits reversed) over the bytes 0..16.
    #[test]
    fn known_answer() {
        let expected: [u8; 16] = [
            0xb8, 0x66, 0x92, 0x41, 0x25, 0xc8, 0xee, 0xbb, 0x9d, 0xeb, 0xc1, 0xdb, 0x61, 0xc5,
            0x38, 0xe2,
        ];
        assert_eq!(response(b"password", &CHALLENGE), expected);
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
