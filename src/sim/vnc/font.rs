//! A small hand-drawn 5×7 bitmap font for the simulated VM screens: capital letters (small
//! letters are drawn as capitals), digits, ASCII punctuation and an em dash. Each glyph sits in
//! a 6×8 cell (one blank column right, one blank row below); characters without a glyph are
//! drawn as `?`.

/// Glyph width in font pixels.
pub(crate) const GLYPH_W: usize = 5;
/// Glyph height in font pixels.
pub(crate) const GLYPH_H: usize = 7;

/// One glyph: 7 rows, the 5 low bits of each row from left (bit 4) to right (bit 0).
pub(crate) type Glyph = [u8; GLYPH_H];

/// Turns a picture (`#` = ink) into a glyph at compile time.
const fn g(rows: [&str; GLYPH_H]) -> Glyph {
    let mut out = [0u8; GLYPH_H];
    let mut r = 0;
    while r < GLYPH_H {
        let b = rows[r].as_bytes();
        let mut c = 0;
        while c < GLYPH_W {
            if c < b.len() && b[c] == b'#' {
                out[r] |= 1 << (GLYPH_W - 1 - c);
            }
            c += 1;
        }
        r += 1;
    }
    out
}

const BLANK: &str = "     ";

static GLYPHS: &[(char, Glyph)] = &[
    (' ', g([BLANK; 7])),
    (
        'A',
        g([
            " ### ", "#   #", "#   #", "#####", "#   #", "#   #", "#   #",
        ]),
    ),
    (
        'B',
        g([
            "#### ", "#   #", "#   #", "#### ", "#   #", "#   #", "#### ",
        ]),
    ),
    (
        'C',
        g([
            " ### ", "#   #", "#    ", "#    ", "#    ", "#   #", " ### ",
        ]),
    ),
    (
        'D',
        g([
            "#### ", "#   #", "#   #", "#   #", "#   #", "#   #", "#### ",
        ]),
    ),
    (
        'E',
        g([
            "#####", "#    ", "#    ", "#### ", "#    ", "#    ", "#####",
        ]),
    ),
    (
        'F',
        g([
            "#####", "#    ", "#    ", "#### ", "#    ", "#    ", "#    ",
        ]),
    ),
    (
        'G',
        g([
            " ### ", "#   #", "#    ", "# ###", "#   #", "#   #", " ####",
        ]),
    ),
    (
        'H',
        g([
            "#   #", "#   #", "#   #", "#####", "#   #", "#   #", "#   #",
        ]),
    ),
    (
        'I',
        g([
            " ### ", "  #  ", "  #  ", "  #  ", "  #  ", "  #  ", " ### ",
        ]),
    ),
    (
        'J',
        g([
            "  ###", "   # ", "   # ", "   # ", "   # ", "#  # ", " ##  ",
        ]),
    ),
    (
        'K',
        g([
            "#   #", "#  # ", "# #  ", "##   ", "# #  ", "#  # ", "#   #",
        ]),
    ),
    (
        'L',
        g([
            "#    ", "#    ", "#    ", "#    ", "#    ", "#    ", "#####",
        ]),
    ),
    (
        'M',
        g([
            "#   #", "## ##", "# # #", "# # #", "#   #", "#   #", "#   #",
        ]),
    ),
    (
        'N',
        g([
            "#   #", "#   #", "##  #", "# # #", "#  ##", "#   #", "#   #",
        ]),
    ),
    (
        'O',
        g([
            " ### ", "#   #", "#   #", "#   #", "#   #", "#   #", " ### ",
        ]),
    ),
    (
        'P',
        g([
            "#### ", "#   #", "#   #", "#### ", "#    ", "#    ", "#    ",
        ]),
    ),
    (
        'Q',
        g([
            " ### ", "#   #", "#   #", "#   #", "# # #", "#  # ", " ## #",
        ]),
    ),
    (
        'R',
        g([
            "#### ", "#   #", "#   #", "#### ", "# #  ", "#  # ", "#   #",
        ]),
    ),
    (
        'S',
        g([
            " ####", "#    ", "#    ", " ### ", "    #", "    #", "#### ",
        ]),
    ),
    (
        'T',
        g([
            "#####", "  #  ", "  #  ", "  #  ", "  #  ", "  #  ", "  #  ",
        ]),
    ),
    (
        'U',
        g([
            "#   #", "#   #", "#   #", "#   #", "#   #", "#   #", " ### ",
        ]),
    ),
    (
        'V',
        g([
            "#   #", "#   #", "#   #", "#   #", "#   #", " # # ", "  #  ",
        ]),
    ),
    (
        'W',
        g([
            "#   #", "#   #", "#   #", "# # #", "# # #", "# # #", " # # ",
        ]),
    ),
    (
        'X',
        g([
            "#   #", "#   #", " # # ", "  #  ", " # # ", "#   #", "#   #",
        ]),
    ),
    (
        'Y',
        g([
            "#   #", "#   #", " # # ", "  #  ", "  #  ", "  #  ", "  #  ",
        ]),
    ),
    (
        'Z',
        g([
            "#####", "    #", "   # ", "  #  ", " #   ", "#    ", "#####",
        ]),
    ),
    (
        '0',
        g([
            " ### ", "#   #", "#  ##", "# # #", "##  #", "#   #", " ### ",
        ]),
    ),
    (
        '1',
        g([
            "  #  ", " ##  ", "  #  ", "  #  ", "  #  ", "  #  ", " ### ",
        ]),
    ),
    (
        '2',
        g([
            " ### ", "#   #", "    #", "   # ", "  #  ", " #   ", "#####",
        ]),
    ),
    (
        '3',
        g([
            "#####", "   # ", "  #  ", "   # ", "    #", "#   #", " ### ",
        ]),
    ),
    (
        '4',
        g([
            "   # ", "  ## ", " # # ", "#  # ", "#####", "   # ", "   # ",
        ]),
    ),
    (
        '5',
        g([
            "#####", "#    ", "#### ", "    #", "    #", "#   #", " ### ",
        ]),
    ),
    (
        '6',
        g([
            "  ## ", " #   ", "#    ", "#### ", "#   #", "#   #", " ### ",
        ]),
    ),
    (
        '7',
        g([
            "#####", "    #", "   # ", "  #  ", " #   ", " #   ", " #   ",
        ]),
    ),
    (
        '8',
        g([
            " ### ", "#   #", "#   #", " ### ", "#   #", "#   #", " ### ",
        ]),
    ),
    (
        '9',
        g([
            " ### ", "#   #", "#   #", " ####", "    #", "   # ", " ##  ",
        ]),
    ),
    (
        '.',
        g([BLANK, BLANK, BLANK, BLANK, BLANK, " ##  ", " ##  "]),
    ),
    (
        ',',
        g([BLANK, BLANK, BLANK, BLANK, " ##  ", "  #  ", " #   "]),
    ),
    (
        ':',
        g([BLANK, " ##  ", " ##  ", BLANK, " ##  ", " ##  ", BLANK]),
    ),
    (
        ';',
        g([BLANK, " ##  ", " ##  ", BLANK, " ##  ", "  #  ", " #   "]),
    ),
    (
        '!',
        g(["  #  ", "  #  ", "  #  ", "  #  ", "  #  ", BLANK, "  #  "]),
    ),
    (
        '?',
        g([" ### ", "#   #", "    #", "   # ", "  #  ", BLANK, "  #  "]),
    ),
    ('-', g([BLANK, BLANK, BLANK, " ### ", BLANK, BLANK, BLANK])),
    ('—', g([BLANK, BLANK, BLANK, "#####", BLANK, BLANK, BLANK])),
    ('_', g([BLANK, BLANK, BLANK, BLANK, BLANK, BLANK, "#####"])),
    (
        '+',
        g([BLANK, "  #  ", "  #  ", "#####", "  #  ", "  #  ", BLANK]),
    ),
    (
        '=',
        g([BLANK, BLANK, "#####", BLANK, "#####", BLANK, BLANK]),
    ),
    (
        '/',
        g([BLANK, "    #", "   # ", "  #  ", " #   ", "#    ", BLANK]),
    ),
    (
        '\\',
        g([BLANK, "#    ", " #   ", "  #  ", "   # ", "    #", BLANK]),
    ),
    (
        '(',
        g([
            "   # ", "  #  ", " #   ", " #   ", " #   ", "  #  ", "   # ",
        ]),
    ),
    (
        ')',
        g([
            " #   ", "  #  ", "   # ", "   # ", "   # ", "  #  ", " #   ",
        ]),
    ),
    (
        '[',
        g([
            " ### ", " #   ", " #   ", " #   ", " #   ", " #   ", " ### ",
        ]),
    ),
    (
        ']',
        g([
            " ### ", "   # ", "   # ", "   # ", "   # ", "   # ", " ### ",
        ]),
    ),
    (
        '{',
        g([
            "   ##", "  #  ", "  #  ", " #   ", "  #  ", "  #  ", "   ##",
        ]),
    ),
    (
        '}',
        g([
            "##   ", "  #  ", "  #  ", "   # ", "  #  ", "  #  ", "##   ",
        ]),
    ),
    (
        '<',
        g([
            "   # ", "  #  ", " #   ", "#    ", " #   ", "  #  ", "   # ",
        ]),
    ),
    (
        '>',
        g([
            " #   ", "  #  ", "   # ", "    #", "   # ", "  #  ", " #   ",
        ]),
    ),
    (
        '\'',
        g(["  #  ", "  #  ", " #   ", BLANK, BLANK, BLANK, BLANK]),
    ),
    (
        '"',
        g([" # # ", " # # ", BLANK, BLANK, BLANK, BLANK, BLANK]),
    ),
    (
        '`',
        g([" #   ", "  #  ", BLANK, BLANK, BLANK, BLANK, BLANK]),
    ),
    (
        '#',
        g([
            " # # ", " # # ", "#####", " # # ", "#####", " # # ", " # # ",
        ]),
    ),
    (
        '@',
        g([
            " ### ", "#   #", "# ###", "# # #", "# ###", "#    ", " ####",
        ]),
    ),
    (
        '*',
        g([BLANK, "# # #", " ### ", "#####", " ### ", "# # #", BLANK]),
    ),
    (
        '%',
        g([
            "##   ", "##  #", "   # ", "  #  ", " #   ", "#  ##", "   ##",
        ]),
    ),
    (
        '&',
        g([
            " ##  ", "#  # ", "# #  ", " #   ", "# # #", "#  # ", " ## #",
        ]),
    ),
    (
        '|',
        g([
            "  #  ", "  #  ", "  #  ", "  #  ", "  #  ", "  #  ", "  #  ",
        ]),
    ),
    (
        '~',
        g([BLANK, BLANK, " #   ", "# # #", "   # ", BLANK, BLANK]),
    ),
    (
        '^',
        g(["  #  ", " # # ", "#   #", BLANK, BLANK, BLANK, BLANK]),
    ),
    (
        '$',
        g([
            "  #  ", " ####", "# #  ", " ### ", "  # #", "#### ", "  #  ",
        ]),
    ),
];

/// The glyph of `c` (small letters as capitals, unknown characters as `?`).
pub(crate) fn glyph(c: char) -> Glyph {
    let c = c.to_ascii_uppercase();
    let find = |c: char| GLYPHS.iter().find(|(k, _)| *k == c).map(|(_, g)| *g);
    find(c).or_else(|| find('?')).unwrap_or([0; GLYPH_H])
}

/// True if `c` has its own glyph (after mapping small letters to capitals).
#[cfg(test)]
pub(crate) fn has_glyph(c: char) -> bool {
    let c = c.to_ascii_uppercase();
    GLYPHS.iter().any(|(k, _)| *k == c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_printable_ascii_character_has_a_distinct_glyph() {
        let mut seen = std::collections::HashMap::new();
        for c in (0x20u8..0x7f).map(char::from) {
            assert!(has_glyph(c), "no glyph for {c:?}");
            if c.is_ascii_lowercase() {
                continue;
            }
            if let Some(other) = seen.insert(glyph(c), c) {
                panic!("{c:?} looks like {other:?}");
            }
        }
        assert_eq!(glyph('a'), glyph('A'));
        assert_eq!(glyph('é'), glyph('?'));
    }

    #[test]
    fn pictures_become_bits() {
        assert_eq!(glyph('T')[0], 0b11111);
        assert_eq!(glyph('T')[6], 0b00100);
        assert_eq!(glyph('L'), [16, 16, 16, 16, 16, 16, 31]);
        assert_eq!(glyph(' '), [0; GLYPH_H]);
    }
}
