//! VNC authentication (RFB security type 2), one implementation for both ends: the console
//! relay answers PVE's challenge with it (so the VNC password never reaches a browser), and the
//! simulator's VNC servers check answers with it. It is a fixed algorithm, not an API shape:
//! the known answer below was computed with openssl, and QEMU mode checks the relay against
//! real QEMU.

use des::Des;
use des::cipher::generic_array::GenericArray;
use des::cipher::{BlockEncrypt, KeyInit};

/// The 16-byte answer to the server's `challenge` for `password`: the challenge DES-encrypted
/// (ECB, two blocks) with the password as the key. As every RFB implementation does, the key
/// is the password's first 8 bytes (zero-padded) with the bits of each byte reversed; QEMU, and
/// so PVE, compares only those 8 bytes.
pub fn vnc_auth_response(password: &[u8], challenge: &[u8; 16]) -> [u8; 16] {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// DES-ECB of the bytes 0..16 under the key "password" with each byte's bits reversed
    /// (`0e86ceceeef64e26`), as `openssl enc -des-ecb -nopad -provider legacy` computes it.
    #[test]
    fn known_answer() {
        let challenge: [u8; 16] = core::array::from_fn(|i| i as u8);
        let expected: [u8; 16] = [
            0xb8, 0x66, 0x92, 0x41, 0x25, 0xc8, 0xee, 0xbb, 0x9d, 0xeb, 0xc1, 0xdb, 0x61, 0xc5,
            0x38, 0xe2,
        ];
        assert_eq!(vnc_auth_response(b"password", &challenge), expected);
        // Only the first 8 bytes count; shorter passwords are zero-padded.
        assert_eq!(
            vnc_auth_response(b"password:PVEVNC:rest", &challenge),
            expected
        );
        assert_eq!(
            vnc_auth_response(b"pw", &challenge),
            vnc_auth_response(b"pw\0\0\0\0\0\0", &challenge)
        );
    }
}
