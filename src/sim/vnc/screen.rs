//! A simulated VM screen: 640×400 pixels showing 25 rows of 53 text cells, drawn with the
//! hand-made font scaled ×2. It shows a boot-like banner with the VM's id and name and, below,
//! `typed:` lines with what viewers typed (Enter starts a new line, Backspace deletes).
//!
//! Every change bumps a version and records which text rows changed, so VNC clients can be
//! sent only the rows that changed since their last update.

use super::font::{GLYPH_H, GLYPH_W, glyph};

/// Width in pixels.
pub(crate) const WIDTH: usize = 640;
/// Height in pixels.
pub(crate) const HEIGHT: usize = 400;
/// Font pixels are drawn as SCALE×SCALE screen pixels.
const SCALE: usize = 2;
/// A text cell in screen pixels.
const CELL_W: usize = (GLYPH_W + 1) * SCALE;
const CELL_H: usize = (GLYPH_H + 1) * SCALE;
/// Text cells per row.
pub(crate) const COLS: usize = WIDTH / CELL_W;
/// Text rows.
pub(crate) const ROWS: usize = HEIGHT / CELL_H;

/// Colours as `0xRRGGBB`.
const BACKGROUND: u32 = 0x0010_1820;
const TEXT: u32 = 0x00D0_D0D0;
const TITLE: u32 = 0x00FF_A040;
const ACCENT: u32 = 0x0060_D890;
const DIM: u32 = 0x0080_8890;

/// The prefix of every input line.
pub(crate) const PROMPT: &str = "typed: ";
/// First row of the input area.
const INPUT_TOP: usize = 9;

/// X11 keysyms the screen reacts to.
const XK_BACKSPACE: u32 = 0xff08;
const XK_RETURN: u32 = 0xff0d;
const XK_KP_ENTER: u32 = 0xff8d;

/// What a VM's screen shows.
pub(crate) struct Screen {
    rows: Vec<(String, u32)>,
    /// The input row the next typed character goes to.
    cursor_row: usize,
    version: u64,
    row_version: Vec<u64>,
    pixels: Vec<u32>,
}

/// Facts shown in the banner.
pub(crate) struct Banner<'a> {
    pub vmid: u32,
    pub name: &'a str,
    pub node: &'a str,
    pub cpus: u32,
    pub memory_mib: u64,
}

impl Screen {
    /// The boot screen of VM 100 "dns1" on pve1 (for tests).
    #[cfg(test)]
    pub(crate) fn test_boot() -> Self {
        Self::boot(&Banner {
            vmid: 100,
            name: "dns1",
            node: "pve1",
            cpus: 2,
            memory_mib: 2048,
        })
    }

    /// The screen right after the simulated boot.
    pub(crate) fn boot(b: &Banner<'_>) -> Self {
        let mut rows = vec![(String::new(), TEXT); ROWS];
        let lines = [
            ("Cecyber simulated console".to_owned(), TITLE),
            (format!("VM {} — {}", b.vmid, b.name), ACCENT),
            (String::new(), TEXT),
            ("Booting from Hard Disk...".to_owned(), DIM),
            (
                format!("node {}, {} vCPU, {} MiB RAM", b.node, b.cpus, b.memory_mib),
                DIM,
            ),
            (String::new(), TEXT),
            (format!("Welcome to {}.", b.name), TEXT),
            (String::new(), TEXT),
            ("Type something; Enter starts a new line.".to_owned(), DIM),
        ];
        for (row, (text, colour)) in rows.iter_mut().zip(lines) {
            *row = (truncate(&text), colour);
        }
        rows[INPUT_TOP] = (PROMPT.to_owned(), TEXT);
        let mut s = Self {
            rows,
            cursor_row: INPUT_TOP,
            version: 1,
            row_version: vec![1; ROWS],
            pixels: vec![BACKGROUND; WIDTH * HEIGHT],
        };
        for r in 0..ROWS {
            s.render_row(r);
        }
        s
    }

    /// Applies a key press (X11 keysym); true if the screen changed.
    pub(crate) fn key(&mut self, keysym: u32) -> bool {
        match keysym {
            XK_RETURN | XK_KP_ENTER => {
                self.new_line();
                true
            }
            XK_BACKSPACE => {
                let row = &mut self.rows[self.cursor_row].0;
                if row.len() > PROMPT.len() {
                    row.pop();
                    self.touch(&[self.cursor_row]);
                    true
                } else {
                    false
                }
            }
            _ => match keysym_char(keysym) {
                Some(c) => {
                    if self.rows[self.cursor_row].0.chars().count() >= COLS - 1 {
                        self.new_line();
                    }
                    self.rows[self.cursor_row].0.push(c);
                    self.touch(&[self.cursor_row]);
                    true
                }
                None => false,
            },
        }
    }

    /// Starts a new input line, scrolling the input area when it is full.
    fn new_line(&mut self) {
        if self.cursor_row + 1 < ROWS {
            self.cursor_row += 1;
            self.rows[self.cursor_row] = (PROMPT.to_owned(), TEXT);
            self.touch(&[self.cursor_row - 1, self.cursor_row]);
        } else {
            self.rows[INPUT_TOP..].rotate_left(1);
            self.rows[ROWS - 1] = (PROMPT.to_owned(), TEXT);
            let all: Vec<usize> = (INPUT_TOP..ROWS).collect();
            self.touch(&all);
        }
    }

    /// Marks `rows` changed (one new version) and redraws them.
    fn touch(&mut self, rows: &[usize]) {
        self.version += 1;
        for &r in rows {
            self.row_version[r] = self.version;
            self.render_row(r);
        }
    }

    fn render_row(&mut self, r: usize) {
        let top = r * CELL_H;
        self.pixels[top * WIDTH..(top + CELL_H) * WIDTH].fill(BACKGROUND);
        let (text, colour) = self.rows[r].clone();
        let mut col = 0;
        for c in text.chars().take(COLS) {
            self.draw(col, r, c, colour);
            col += 1;
        }
        if r == self.cursor_row && col < COLS {
            self.draw(col, r, '_', colour);
        }
    }

    fn draw(&mut self, col: usize, row: usize, c: char, colour: u32) {
        let (x0, y0) = (col * CELL_W, row * CELL_H);
        for (gy, bits) in glyph(c).iter().enumerate() {
            for gx in 0..GLYPH_W {
                if bits & (1 << (GLYPH_W - 1 - gx)) == 0 {
                    continue;
                }
                for dy in 0..SCALE {
                    let y = y0 + gy * SCALE + dy;
                    let x = x0 + gx * SCALE;
                    self.pixels[y * WIDTH + x..y * WIDTH + x + SCALE].fill(colour);
                }
            }
        }
    }

    /// The current version (grows with every change).
    pub(crate) fn version(&self) -> u64 {
        self.version
    }

    /// Pixel rows `[top, bottom)` covering every text row changed after version `since`.
    pub(crate) fn changed_since(&self, since: u64) -> Option<(usize, usize)> {
        let changed = || (0..ROWS).filter(|r| self.row_version[*r] > since);
        let first = changed().next()?;
        let last = changed().next_back()?;
        Some((first * CELL_H, (last + 1) * CELL_H))
    }

    /// The pixels, row by row, as `0xRRGGBB`.
    pub(crate) fn pixels(&self) -> &[u32] {
        &self.pixels
    }

    /// The text rows (as typed, not upper-cased), without trailing empty rows.
    pub(crate) fn text(&self) -> Vec<String> {
        let mut rows: Vec<String> = self.rows.iter().map(|(t, _)| t.clone()).collect();
        while rows.last().is_some_and(String::is_empty) {
            rows.pop();
        }
        rows
    }

    /// The screen as a binary PPM (P6) image.
    pub(crate) fn ppm(&self) -> Vec<u8> {
        let mut out = format!("P6\n{WIDTH} {HEIGHT}\n255\n").into_bytes();
        out.reserve(WIDTH * HEIGHT * 3);
        for p in &self.pixels {
            out.extend_from_slice(&[(p >> 16) as u8, (p >> 8) as u8, *p as u8]);
        }
        out
    }
}

/// The character a keysym types: Latin-1 keysyms are their code point, `0x01000000 + U`
/// is Unicode `U`; control keys type nothing.
fn keysym_char(keysym: u32) -> Option<char> {
    let code = match keysym {
        0x20..=0x7e | 0xa0..=0xff => keysym,
        0x0100_0020..=0x0110_ffff => keysym - 0x0100_0000,
        _ => return None,
    };
    char::from_u32(code).filter(|c| !c.is_control())
}

fn truncate(s: &str) -> String {
    s.chars().take(COLS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn type_str(s: &mut Screen, text: &str) {
        for c in text.chars() {
            s.key(u32::from(c));
        }
    }

    #[test]
    fn banner_names_the_vm() {
        let s = Screen::test_boot();
        let text = s.text();
        assert_eq!(text[0], "Cecyber simulated console");
        assert_eq!(text[1], "VM 100 — dns1");
        assert_eq!(text.last().unwrap(), PROMPT);
        assert_eq!((COLS, ROWS), (53, 25));
    }

    #[test]
    fn typing_enter_and_backspace() {
        let mut s = Screen::test_boot();
        let v = s.version();
        type_str(&mut s, "Hello!");
        s.key(XK_RETURN);
        type_str(&mut s, "ab");
        s.key(XK_BACKSPACE);
        assert!(!s.key(0xffe1), "shift changes nothing");
        let text = s.text();
        assert_eq!(text[INPUT_TOP], "typed: Hello!");
        assert_eq!(text[INPUT_TOP + 1], "typed: a");
        let (top, bottom) = s.changed_since(v).unwrap();
        assert_eq!(
            (top, bottom),
            (INPUT_TOP * CELL_H, (INPUT_TOP + 2) * CELL_H)
        );
        assert_eq!(s.changed_since(s.version()), None);
    }

    #[test]
    fn the_input_area_scrolls() {
        let mut s = Screen::test_boot();
        for i in 0..(ROWS - INPUT_TOP + 3) {
            type_str(&mut s, &i.to_string());
            s.key(XK_RETURN);
        }
        let text = s.text();
        assert_eq!(text.len(), ROWS);
        assert_eq!(text[ROWS - 2], format!("typed: {}", ROWS - INPUT_TOP + 2));
        assert_eq!(text[1], "VM 100 — dns1", "the banner stays");
    }

    /// The letter `T` typed first lands in the first input cell: its top bar is ink, the
    /// cell's right spacing column is background.
    #[test]
    fn font_rendering_draws_pixels() {
        let mut s = Screen::test_boot();
        let x0 = PROMPT.len() * CELL_W;
        let y0 = INPUT_TOP * CELL_H;
        let at = |s: &Screen, x: usize, y: usize| s.pixels()[y * WIDTH + x];
        assert_eq!(at(&s, x0, y0 + 12), TEXT, "the cursor underline");
        s.key(u32::from('t'));
        for x in x0..x0 + GLYPH_W * SCALE {
            assert_eq!(at(&s, x, y0), TEXT, "top bar at x={x}");
        }
        assert_eq!(at(&s, x0 + 10, y0), BACKGROUND, "spacing column");
        assert_eq!(at(&s, x0, y0 + 2), BACKGROUND, "below the bar, left");
        assert_eq!(at(&s, x0 + 4, y0 + 13), TEXT, "stem bottom");
        let ink = s.pixels().iter().filter(|p| **p != BACKGROUND).count();
        assert!(ink > 2000, "banner drawn: {ink}");
        let ppm = s.ppm();
        assert!(ppm.starts_with(b"P6\n640 400\n255\n"));
        assert_eq!(ppm.len(), 15 + WIDTH * HEIGHT * 3);
    }
}
