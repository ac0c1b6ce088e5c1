//! RFB pixel formats and the conversion of the screen's `0xRRGGBB` pixels into them, a whole
//! row at a time: a plain copy for the server's native format, shifts for 8-bit channels
//! (every 32-bit true-colour format noVNC and QEMU's clients ask for), per-channel lookup tables
//! for the rest. Each is chosen once per SetPixelFormat and matches the one-pixel reference
//! conversion ([`PixelFormat::put`], kept for the tests) byte for byte.

/// How pixels are sent to a client (RFB PIXEL_FORMAT).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PixelFormat {
    pub bits_per_pixel: u8,
    pub depth: u8,
    pub big_endian: bool,
    pub true_colour: bool,
    pub max: [u16; 3],
    pub shift: [u8; 3],
}

impl PixelFormat {
    /// The server's native format: 32 bpp, depth 24, little endian, `0x00RRGGBB`.
    pub(crate) const NATIVE: Self = Self {
        bits_per_pixel: 32,
        depth: 24,
        big_endian: false,
        true_colour: true,
        max: [255, 255, 255],
        shift: [16, 8, 0],
    };

    /// The 16-byte wire form.
    pub(crate) fn to_bytes(self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[0] = self.bits_per_pixel;
        b[1] = self.depth;
        b[2] = u8::from(self.big_endian);
        b[3] = u8::from(self.true_colour);
        for i in 0..3 {
            b[4 + 2 * i..6 + 2 * i].copy_from_slice(&self.max[i].to_be_bytes());
            b[10 + i] = self.shift[i];
        }
        b
    }

    /// Parses the wire form; `None` for formats this server cannot produce.
    pub(crate) fn from_bytes(b: &[u8; 16]) -> Option<Self> {
        let f = Self {
            bits_per_pixel: b[0],
            depth: b[1],
            big_endian: b[2] != 0,
            true_colour: b[3] != 0,
            max: [
                u16::from_be_bytes([b[4], b[5]]),
                u16::from_be_bytes([b[6], b[7]]),
                u16::from_be_bytes([b[8], b[9]]),
            ],
            shift: [b[10], b[11], b[12]],
        };
        let fits = f
            .shift
            .iter()
            .all(|s| u32::from(*s) < u32::from(f.bits_per_pixel));
        (matches!(f.bits_per_pixel, 8 | 16 | 32) && f.true_colour && fits).then_some(f)
    }

    /// Bytes one pixel takes on the wire.
    pub(crate) fn bytes_per_pixel(self) -> usize {
        usize::from(self.bits_per_pixel / 8)
    }

    /// noVNC's format: 32 bpp, red in the lowest byte (for tests).
    #[cfg(test)]
    pub(crate) const NOVNC: Self = Self {
        shift: [0, 8, 16],
        ..Self::NATIVE
    };

    /// 16 bpp RGB565, big endian (for tests).
    #[cfg(test)]
    pub(crate) const RGB565: Self = Self {
        bits_per_pixel: 16,
        depth: 16,
        big_endian: true,
        true_colour: true,
        max: [31, 63, 31],
        shift: [11, 5, 0],
    };

    /// The reference conversion: appends one `0xRRGGBB` pixel in this format (each channel
    /// scaled to its maximum, shifted into place; the value truncated to the pixel's size).
    #[cfg(test)]
    pub(crate) fn put(&self, rgb: u32, out: &mut Vec<u8>) {
        let mut v: u32 = 0;
        for (i, component) in [(rgb >> 16) & 0xff, (rgb >> 8) & 0xff, rgb & 0xff]
            .into_iter()
            .enumerate()
        {
            let max = u32::from(self.max[i]);
            v |= (component * max / 255) << self.shift[i];
        }
        match (self.bits_per_pixel, self.big_endian) {
            (8, _) => out.push(v as u8),
            (16, false) => out.extend_from_slice(&(v as u16).to_le_bytes()),
            (16, true) => out.extend_from_slice(&(v as u16).to_be_bytes()),
            (_, false) => out.extend_from_slice(&v.to_le_bytes()),
            (_, true) => out.extend_from_slice(&v.to_be_bytes()),
        }
    }
}

/// Converts rows of `0xRRGGBB` pixels into one pixel format (made for a format that
/// [`PixelFormat::from_bytes`] accepts, or the native one).
pub(crate) struct Encoder {
    format: PixelFormat,
    how: How,
}

/// The conversion chosen for a format.
enum How {
    /// The native layout: each pixel's own little-endian bytes.
    Native,
    /// 8-bit channels (every maximum 255): each channel moved to its shift.
    Shift([u32; 3]),
    /// Any other channel depth: per channel, the scaled and shifted value of each of the 256
    /// intensities.
    Table(Box<[[u32; 256]; 3]>),
}

impl Encoder {
    /// The encoder for `format`.
    pub(crate) fn new(format: PixelFormat) -> Self {
        let native = PixelFormat {
            depth: format.depth,
            ..PixelFormat::NATIVE
        };
        let how = if format == native {
            How::Native
        } else if format.max == [255; 3] {
            How::Shift(format.shift.map(u32::from))
        } else {
            let mut table = Box::new([[0u32; 256]; 3]);
            for (i, channel) in table.iter_mut().enumerate() {
                let max = u32::from(format.max[i]);
                for (c, v) in (0u32..).zip(channel.iter_mut()) {
                    *v = (c * max / 255) << format.shift[i];
                }
            }
            How::Table(table)
        };
        Self { format, how }
    }

    /// The format this encoder produces.
    pub(crate) fn format(&self) -> PixelFormat {
        self.format
    }

    /// Writes `src` converted into `dst`, which holds exactly as many pixels as `src`.
    pub(crate) fn encode(&self, src: &[u32], dst: &mut [u8]) {
        debug_assert_eq!(dst.len(), src.len() * self.format.bytes_per_pixel());
        match &self.how {
            How::Native => fill(src, dst, |p| (p & 0x00ff_ffff).to_le_bytes()),
            &How::Shift([r, g, b]) => self.store(src, dst, move |p| {
                (((p >> 16) & 0xff) << r) | (((p >> 8) & 0xff) << g) | ((p & 0xff) << b)
            }),
            How::Table(t) => self.store(src, dst, |p| {
                t[0][((p >> 16) & 0xff) as usize]
                    | t[1][((p >> 8) & 0xff) as usize]
                    | t[2][(p & 0xff) as usize]
            }),
        }
    }

    /// Writes each pixel's `value` with this format's size and byte order.
    #[inline(always)]
    fn store(&self, src: &[u32], dst: &mut [u8], value: impl Fn(u32) -> u32) {
        match (self.format.bits_per_pixel, self.format.big_endian) {
            (8, _) => fill(src, dst, |p| [value(p) as u8]),
            (16, false) => fill(src, dst, |p| (value(p) as u16).to_le_bytes()),
            (16, true) => fill(src, dst, |p| (value(p) as u16).to_be_bytes()),
            (_, false) => fill(src, dst, |p| value(p).to_le_bytes()),
            (_, true) => fill(src, dst, |p| value(p).to_be_bytes()),
        }
    }
}

/// The loop every conversion ends in: fixed-size pixels, no bounds checks, no calls, so the
/// compiler can vectorize it.
#[inline(always)]
fn fill<const N: usize>(src: &[u32], dst: &mut [u8], pixel: impl Fn(u32) -> [u8; N]) {
    let (pixels, _) = dst.as_chunks_mut::<N>();
    for (d, &p) in pixels.iter_mut().zip(src) {
        *d = pixel(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Formats clients ask for: noVNC's and QEMU's native ones, both byte orders, 10-bit
    /// channels, 16 bpp (RGB565, RGB555), 8 bpp (RGB332, BGR233), and odd shifts.
    fn formats() -> Vec<PixelFormat> {
        let f32 = |big_endian, max, shift| PixelFormat {
            bits_per_pixel: 32,
            depth: 24,
            big_endian,
            true_colour: true,
            max,
            shift,
        };
        let f16 = |big_endian, max, shift| PixelFormat {
            bits_per_pixel: 16,
            depth: 16,
            big_endian,
            true_colour: true,
            max,
            shift,
        };
        let f8 = |max, shift| PixelFormat {
            bits_per_pixel: 8,
            depth: 8,
            big_endian: false,
            true_colour: true,
            max,
            shift,
        };
        vec![
            PixelFormat::NATIVE,
            f32(false, [255; 3], [0, 8, 16]),
            f32(true, [255; 3], [16, 8, 0]),
            f32(true, [255; 3], [0, 8, 16]),
            f32(false, [255; 3], [24, 16, 8]),
            f32(true, [255; 3], [3, 13, 21]),
            f32(false, [1023; 3], [20, 10, 0]),
            f32(true, [1023; 3], [0, 10, 20]),
            f16(false, [31, 63, 31], [11, 5, 0]),
            f16(true, [31, 63, 31], [11, 5, 0]),
            f16(false, [31, 31, 31], [10, 5, 0]),
            f16(true, [255; 3], [8, 4, 0]),
            f8([7, 7, 3], [5, 2, 0]),
            f8([3, 7, 7], [0, 2, 5]),
            f8([255; 3], [0, 0, 0]),
        ]
    }

    /// Every intensity of each channel and of grey, then pseudo-random pixels (high byte
    /// included, which every format ignores).
    fn pixels() -> Vec<u32> {
        let mut out: Vec<u32> = (0..=255u32)
            .flat_map(|c| [c << 16, c << 8, c, c * 0x0001_0101])
            .collect();
        let mut x = 0x2545_f491_u32;
        for _ in 0..4096 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            out.push(x);
        }
        out
    }

    #[test]
    fn every_fast_path_matches_the_reference_conversion() {
        let src = pixels();
        for format in formats() {
            assert!(
                format == PixelFormat::NATIVE
                    || PixelFormat::from_bytes(&format.to_bytes()) == Some(format),
                "{format:?} is accepted"
            );
            let encoder = Encoder::new(format);
            let mut reference = Vec::new();
            for p in &src {
                format.put(*p, &mut reference);
            }
            let mut fast = vec![0xaa; src.len() * format.bytes_per_pixel()];
            encoder.encode(&src, &mut fast);
            assert!(fast == reference, "{format:?}");
        }
    }

    #[test]
    fn each_format_gets_its_conversion() {
        let kind = |f: PixelFormat| match Encoder::new(f).how {
            How::Native => "native",
            How::Shift(_) => "shift",
            How::Table(_) => "table",
        };
        let kinds: Vec<&str> = formats().into_iter().map(kind).collect();
        assert_eq!(
            kinds,
            [
                "native", "shift", "shift", "shift", "shift", "shift", "table", "table", "table",
                "table", "table", "shift", "table", "table", "shift"
            ]
        );
        let depth32 = PixelFormat {
            depth: 32,
            ..PixelFormat::NATIVE
        };
        assert_eq!(
            kind(depth32),
            "native",
            "the depth does not change the bytes"
        );
    }

    #[test]
    fn pixel_formats() {
        let mut out = Vec::new();
        PixelFormat::NATIVE.put(0x0011_2233, &mut out);
        assert_eq!(out, [0x33, 0x22, 0x11, 0]);
        // noVNC's format: red in the lowest byte.
        let novnc = PixelFormat::NOVNC;
        let parsed = PixelFormat::from_bytes(&novnc.to_bytes()).unwrap();
        assert_eq!(parsed, novnc);
        out.clear();
        novnc.put(0x0011_2233, &mut out);
        assert_eq!(out, [0x11, 0x22, 0x33, 0]);
        // 16 bpp RGB565, big endian.
        let rgb565 = PixelFormat::RGB565;
        out.clear();
        rgb565.put(0x00ff_ffff, &mut out);
        assert_eq!(out, [0xff, 0xff]);
        let mut colour_map = PixelFormat::NATIVE.to_bytes();
        colour_map[3] = 0;
        assert_eq!(PixelFormat::from_bytes(&colour_map), None);
    }
}
