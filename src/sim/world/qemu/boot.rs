//! The boot image of a QEMU-mode VM: a 512-byte boot sector, assembled here by hand, that
//! prints a message through the BIOS teletype service (`int 10h`, `ah=0Eh`) and halts; padded
//! to 1 MiB because SeaBIOS does not boot smaller disks.

/// Size of the disk image.
pub(crate) const IMAGE_SIZE: usize = 1024 * 1024;
/// Where the BIOS loads the boot sector.
const LOAD_ADDRESS: u16 = 0x7C00;
/// Offset of the message in the sector (right after the code).
const MESSAGE_OFFSET: usize = 32;
/// Room for the message and its terminating zero, up to the boot signature.
const MESSAGE_ROOM: usize = 510 - MESSAGE_OFFSET - 1;

/// The boot sector's code (real mode, 16 bit), `MESSAGE_OFFSET` bytes; the message address
/// is patched into bytes 13–14.
fn code() -> [u8; MESSAGE_OFFSET] {
    let [lo, hi] = (LOAD_ADDRESS + MESSAGE_OFFSET as u16).to_le_bytes();
    [
        0x31, 0xC0, // xor ax, ax
        0x8E, 0xD8, // mov ds, ax
        0x8E, 0xC0, // mov es, ax
        0x8E, 0xD0, // mov ss, ax
        0xBC, 0x00, 0x7C, // mov sp, 0x7c00
        0xFC, // cld
        0xBE, lo, hi, // mov si, message
        0xB4, 0x0E, // mov ah, 0x0e      (teletype output)
        0xBB, 0x07, 0x00, // mov bx, 0x0007    (page 0, light grey)
        0xAC, // next: lodsb
        0x84, 0xC0, // test al, al
        0x74, 0x04, // jz done
        0xCD, 0x10, // int 0x10
        0xEB, 0xF7, // jmp next
        0xF4, // done: hlt
        0xEB, 0xFD, // jmp done
    ]
}

/// The boot sector printing `message` (ASCII; other characters become `?`, CR/LF kept,
/// cut to fit).
pub(crate) fn boot_sector(message: &str) -> [u8; 512] {
    let mut sector = [0u8; 512];
    sector[..MESSAGE_OFFSET].copy_from_slice(&code());
    let text = message
        .chars()
        .map(|c| {
            if c == '\r' || c == '\n' || (' '..='~').contains(&c) {
                c as u8
            } else {
                b'?'
            }
        })
        .take(MESSAGE_ROOM);
    for (slot, byte) in sector[MESSAGE_OFFSET..].iter_mut().zip(text) {
        *slot = byte;
    }
    sector[510] = 0x55;
    sector[511] = 0xAA;
    sector
}

/// The whole disk image: the boot sector, then zeros up to 1 MiB.
pub(crate) fn boot_image(message: &str) -> Vec<u8> {
    let mut image = vec![0u8; IMAGE_SIZE];
    image[..512].copy_from_slice(&boot_sector(message));
    image
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sector_layout() {
        let s = boot_sector("VM 100 web\r\n");
        assert_eq!(&s[510..], &[0x55, 0xAA]);
        assert_eq!(&s[13..15], &[0x20, 0x7C], "mov si, 0x7c20");
        assert_eq!(&s[32..44], b"VM 100 web\r\n");
        assert_eq!(s[44], 0, "terminated");
        // The jumps land on `lodsb` (20) and `hlt` (29).
        assert_eq!(s[20], 0xAC);
        assert_eq!(29 + (s[28] as i8 as isize), 20);
        assert_eq!(25 + s[24] as isize, 29);
        assert_eq!(32 + (s[31] as i8 as isize), 29);
    }

    #[test]
    fn long_and_non_ascii_messages_fit() {
        let s = boot_sector(&"é".repeat(1000));
        assert_eq!(s[32], b'?');
        assert_eq!(s[509], 0, "terminator before the signature");
        assert_eq!(&s[510..], &[0x55, 0xAA]);
        assert_eq!(boot_image("x").len(), IMAGE_SIZE);
    }
}
