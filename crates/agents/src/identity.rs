//! Agent names, and the colour and identicon derived from them.
//!
//! A name is hierarchical: `shop-backend-api` is `api` under `backend` under `shop`, so clients show
//! agents as a tree. The same name always gets the same colour and picture.

use std::fmt::Write as _;

/// Longest name accepted: it becomes a branch (`maestro/<name>`) and a directory.
pub const MAX_NAME_LEN: usize = 64;

/// Checks a name: lowercase ASCII letters and digits in `-`-separated segments, starting with a
/// letter. The error says what is wrong and shows a valid form.
pub fn validate_name(name: &str) -> Result<(), String> {
    let fix = || suggest(name);
    if name.is_empty() {
        return Err("an agent name cannot be empty".to_owned());
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "agent name `{name}` is {} bytes long; the limit is {MAX_NAME_LEN}",
            name.len()
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(format!(
            "agent name `{name}` must start with a lowercase letter{}",
            fix()
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!(
            "agent name `{name}` contains {bad:?}: use lowercase letters, digits and `-` between parts{}",
            fix()
        ));
    }
    if name.ends_with('-') || name.contains("--") {
        return Err(format!(
            "agent name `{name}` has an empty part: `-` separates parts, as in `shop-backend-api`{}",
            fix()
        ));
    }
    Ok(())
}

fn suggest(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out
        .trim_matches('-')
        .trim_start_matches(|c: char| c.is_ascii_digit());
    let out = out.trim_start_matches('-');
    if out.is_empty() || out == name {
        String::new()
    } else {
        format!(" (for example `{}`)", &out[..out.len().min(MAX_NAME_LEN)])
    }
}

/// The parts of a name, root first: `shop-backend-api` → `["shop", "backend", "api"]`.
pub fn name_path(name: &str) -> Vec<&str> {
    name.split('-').collect()
}

/// FNV-1a: stable across builds and platforms, unlike `std`'s hasher.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// `#rrggbb`: a hue from the name's hash, at a saturation and lightness that read on dark and light
/// themes alike.
pub fn color(name: &str) -> String {
    let hue = (fnv1a(name.as_bytes()) % 360) as f64;
    let (r, g, b) = hsl_to_rgb(hue, 0.65, 0.5);
    format!("#{r:02x}{g:02x}{b:02x}")
}

fn hsl_to_rgb(h: f64, s: f64, l: f64) -> (u8, u8, u8) {
    let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
    let hp = h / 60.0;
    let x = c * (1.0 - (hp % 2.0 - 1.0).abs());
    let (r, g, b) = match hp as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = l - c / 2.0;
    let to = |v: f64| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    (to(r), to(g), to(b))
}

/// A 5×5 mirror-symmetric identicon in the name's colour, as an SVG document.
pub fn identicon_svg(name: &str) -> String {
    const CELL: u32 = 10;
    let bits = fnv1a(name.as_bytes()).rotate_left(17) ^ fnv1a(name.as_bytes()).wrapping_mul(31);
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{s}" height="{s}" viewBox="0 0 {s} {s}"><rect width="{s}" height="{s}" fill="#f0f0f0"/>"##,
        s = CELL * 5
    );
    let fill = color(name);
    // Three columns decide five: the two right ones mirror the two left ones.
    for row in 0..5u32 {
        for col in 0..3u32 {
            if bits >> (row * 3 + col) & 1 == 1 {
                for c in if col == 2 {
                    vec![2]
                } else {
                    vec![col, 4 - col]
                } {
                    let _ = write!(
                        svg,
                        r#"<rect x="{}" y="{}" width="{CELL}" height="{CELL}" fill="{fill}"/>"#,
                        c * CELL,
                        row * CELL
                    );
                }
            }
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_with_a_way_out() {
        for good in ["a", "shop-backend-api", "api2", "x-1-y"] {
            assert_eq!(validate_name(good), Ok(()), "{good}");
        }
        let err = validate_name("Shop_Backend").unwrap_err();
        assert!(err.contains("lowercase"), "{err}");
        let err = validate_name("shop_backend").unwrap_err();
        assert!(
            err.contains("'_'") && err.contains("`shop-backend`"),
            "{err}"
        );
        assert!(validate_name("").unwrap_err().contains("empty"));
        assert!(validate_name("a--b").unwrap_err().contains("empty part"));
        assert!(validate_name("a-").unwrap_err().contains("empty part"));
        assert!(validate_name("1abc").unwrap_err().contains("start with"));
        assert!(validate_name("../x").is_err());
        assert!(
            validate_name(&"a".repeat(65))
                .unwrap_err()
                .contains("limit")
        );
    }

    #[test]
    fn the_same_name_looks_the_same_and_names_differ() {
        assert_eq!(color("shop-api"), color("shop-api"));
        assert_ne!(color("shop-api"), color("shop-web"));
        assert_eq!(color("x").len(), 7);
        let svg = identicon_svg("shop-api");
        assert_eq!(svg, identicon_svg("shop-api"));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains(&color("shop-api")));
        assert_eq!(name_path("shop-backend-api"), ["shop", "backend", "api"]);
    }
}
