//! FramebufferUpdate messages in Raw encoding, made without converting the same pixels twice:
//! per display, the whole screen is kept encoded as a ready full-screen update for each pixel
//! format in use, brought up to date when the screen changed (only the rows that changed are
//! converted again) and shared by every viewer. A full-screen update is sent as it is; a
//! smaller rectangle is copied out of it row by row.

use std::sync::Arc;

use super::pixel::{Encoder, PixelFormat};
use super::screen::{HEIGHT, Screen, WIDTH};

/// Bytes before the pixels of a one-rectangle update: message type, padding, number of
/// rectangles, then the rectangle's x, y, width, height and encoding.
const HEADER: usize = 16;

/// Pixel formats kept encoded per display (a viewer uses one; noVNC and QEMU's own clients
/// agree on a couple).
const FORMATS: usize = 4;

/// A rectangle in screen pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rect {
    pub x: usize,
    pub y: usize,
    pub w: usize,
    pub h: usize,
}

impl Rect {
    /// The whole screen.
    pub(crate) const SCREEN: Self = Self {
        x: 0,
        y: 0,
        w: WIDTH,
        h: HEIGHT,
    };

    /// `self` clipped to rows `[top, bottom)` and to the screen; `None` if nothing is left.
    pub(crate) fn clip(self, top: usize, bottom: usize) -> Option<Self> {
        let x1 = (self.x + self.w).min(WIDTH);
        let y0 = self.y.max(top);
        let y1 = (self.y + self.h).min(bottom).min(HEIGHT);
        (self.x < x1 && y0 < y1).then(|| Self {
            x: self.x,
            y: y0,
            w: x1 - self.x,
            h: y1 - y0,
        })
    }

    /// The rectangle header: x, y, width, height, encoding Raw.
    fn header(self) -> [u8; 12] {
        let mut b = [0u8; 12];
        for (i, v) in [self.x, self.y, self.w, self.h].into_iter().enumerate() {
            b[2 * i..2 * i + 2].copy_from_slice(&(v as u16).to_be_bytes());
        }
        b
    }
}

/// One display's screen, encoded as full-screen updates.
#[derive(Default)]
pub(crate) struct Frames(Vec<Encoded>);

/// The screen in one pixel format.
struct Encoded {
    format: PixelFormat,
    /// The screen version the pixels show.
    version: u64,
    /// A FramebufferUpdate with one Raw rectangle: the whole screen.
    message: Arc<Vec<u8>>,
}

impl Frames {
    /// The whole of `screen` as a one-rectangle update in `encoder`'s format, and the screen
    /// version it shows (the current one).
    pub(crate) fn full(&mut self, screen: &Screen, encoder: &Encoder) -> (Arc<Vec<u8>>, u64) {
        let format = encoder.format();
        let pixels = screen.pixels();
        let version = screen.version();
        let i = match self.0.iter().position(|e| e.format == format) {
            Some(i) => i,
            None => {
                if self.0.len() == FORMATS {
                    self.0.remove(0);
                }
                let size = HEADER + pixels.len() * format.bytes_per_pixel();
                let mut message = Vec::with_capacity(size);
                message.extend_from_slice(&[0, 0, 0, 1]);
                message.extend_from_slice(&Rect::SCREEN.header());
                message.resize(size, 0);
                encoder.encode(pixels, &mut message[HEADER..]);
                self.0.push(Encoded {
                    format,
                    version,
                    message: Arc::new(message),
                });
                self.0.len() - 1
            }
        };
        let e = &mut self.0[i];
        if let Some((top, bottom)) = screen.changed_since(e.version) {
            // Copied first if a viewer is still sending the previous version.
            let message = Arc::make_mut(&mut e.message);
            let row = WIDTH * format.bytes_per_pixel();
            encoder.encode(
                &pixels[top * WIDTH..bottom * WIDTH],
                &mut message[HEADER + top * row..HEADER + bottom * row],
            );
        }
        e.version = version;
        (e.message.clone(), version)
    }
}

/// A FramebufferUpdate of `rect` (no rectangle for `None`) in Raw encoding, its pixels taken
/// from `full`, a full-screen update of `bytes_pp`-byte pixels made by [`Frames::full`].
pub(crate) fn rect_update(full: &[u8], rect: Option<Rect>, bytes_pp: usize) -> Vec<u8> {
    let Some(r) = rect else {
        return vec![0, 0, 0, 0];
    };
    let (row, width) = (WIDTH * bytes_pp, r.w * bytes_pp);
    let mut msg = Vec::with_capacity(HEADER + r.h * width);
    msg.extend_from_slice(&[0, 0, 0, 1]);
    msg.extend_from_slice(&r.header());
    for y in r.y..r.y + r.h {
        let start = HEADER + y * row + r.x * bytes_pp;
        msg.extend_from_slice(&full[start..start + width]);
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The update as the reference conversion makes it, one pixel at a time.
    fn reference(screen: &Screen, format: PixelFormat, r: Rect) -> Vec<u8> {
        let mut msg = vec![0, 0, 0, 1];
        msg.extend_from_slice(&r.header());
        for y in r.y..r.y + r.h {
            for p in &screen.pixels()[y * WIDTH + r.x..y * WIDTH + r.x + r.w] {
                format.put(*p, &mut msg);
            }
        }
        msg
    }

    #[test]
    fn updates_match_the_reference_conversion_after_changes() {
        let mut s = Screen::test_boot();
        let mut frames = Frames::default();
        let small = Rect {
            x: 30,
            y: 170,
            w: 97,
            h: 33,
        };
        for round in 0..3 {
            for format in [PixelFormat::NATIVE, PixelFormat::NOVNC, PixelFormat::RGB565] {
                let encoder = Encoder::new(format);
                let (full, version) = frames.full(&s, &encoder);
                assert_eq!(version, s.version());
                assert!(
                    *full == reference(&s, format, Rect::SCREEN),
                    "{round} {format:?}"
                );
                let part = rect_update(&full, Some(small), format.bytes_per_pixel());
                assert!(part == reference(&s, format, small), "{round} {format:?}");
            }
            for c in "Hi there".chars() {
                s.key(u32::from(c));
            }
            s.key(0xff0d);
        }
        assert_eq!(frames.0.len(), 3);
        assert_eq!(rect_update(&[], None, 4), [0, 0, 0, 0]);
    }

    #[test]
    fn a_viewer_keeps_the_version_it_was_given() {
        let mut s = Screen::test_boot();
        let mut frames = Frames::default();
        let encoder = Encoder::new(PixelFormat::NATIVE);
        let (before, _) = frames.full(&s, &encoder);
        let unchanged = reference(&s, PixelFormat::NATIVE, Rect::SCREEN);
        s.key(u32::from('x'));
        let (after, _) = frames.full(&s, &encoder);
        assert!(*before == unchanged);
        assert!(*after == reference(&s, PixelFormat::NATIVE, Rect::SCREEN));
        assert!(before != after);
        let (again, _) = frames.full(&s, &encoder);
        assert!(
            Arc::ptr_eq(&after, &again),
            "nothing changed: the same buffer"
        );
    }

    #[test]
    fn old_formats_make_room() {
        let s = Screen::test_boot();
        let mut frames = Frames::default();
        for shift in 0..6 {
            let format = PixelFormat {
                shift: [shift, 8, 16],
                ..PixelFormat::NATIVE
            };
            frames.full(&s, &Encoder::new(format));
        }
        assert_eq!(frames.0.len(), FORMATS);
        assert_eq!(frames.0[0].format.shift[0], 2);
    }

    #[test]
    fn clipping() {
        let full = Rect {
            x: 0,
            y: 0,
            w: 9999,
            h: 9999,
        };
        assert_eq!(
            full.clip(16, 48),
            Some(Rect {
                x: 0,
                y: 16,
                w: WIDTH,
                h: 32
            })
        );
        assert_eq!(full.clip(0, HEIGHT), Some(Rect::SCREEN));
        let small = Rect {
            x: 10,
            y: 0,
            w: 5,
            h: 5,
        };
        assert_eq!(small.clip(16, 48), None);
    }
}
