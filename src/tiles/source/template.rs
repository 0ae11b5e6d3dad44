//! URL templates: `{z} {x} {y}`, `{-y}` (TMS rows), `{s}` (subdomain), `{q}` (Bing-style
//! quadkey) and `{r}` (retina suffix).

use crate::tiles::{TileId, tiles_per_side};

/// Placeholders a URL template may contain.
pub const PLACEHOLDERS: [&str; 7] = ["z", "x", "y", "-y", "s", "q", "r"];

/// What `{r}` becomes for a retina source.
pub const RETINA_SUFFIX: &str = "@2x";

/// The placeholders of `template`, in order, known or not.
pub fn placeholders(template: &str) -> Vec<String> {
    let mut names = Vec::new();
    render(template, |name| {
        names.push(name.to_owned());
        None
    });
    names
}

/// The URL of `tile` from `template`. `{s}` is picked from `subdomains` by `x + y`, so a
/// tile always maps to the same URL (and browser cache entry); `{r}` is
/// [`RETINA_SUFFIX`] when `retina`, empty otherwise.
pub fn expand(template: &str, tile: &TileId, subdomains: &[String], retina: bool) -> String {
    render(template, |name| match name {
        "z" => Some(tile.z.to_string()),
        "x" => Some(tile.x.to_string()),
        "y" => Some(tile.y.to_string()),
        "-y" => Some(tiles_per_side(tile.z).saturating_sub(1).saturating_sub(tile.y.into()).to_string()),
        "s" => {
            let pick = (u64::from(tile.x) + u64::from(tile.y)).checked_rem(subdomains.len() as u64)?;
            subdomains.get(usize::try_from(pick).ok()?).cloned()
        }
        "q" => Some(quadkey(tile)),
        "r" => Some(if retina { RETINA_SUFFIX } else { "" }.to_owned()),
        _ => None,
    })
}

/// The Bing Maps quadkey of `tile`: one digit per zoom level, from the coarsest, each
/// `x bit + 2 × y bit` of that level (`""` at zoom 0).
///
/// ```
/// use geodetect::tiles::{TileId, quadkey};
/// // Bing's documented example: tile (3, 5) at level 3.
/// assert_eq!(quadkey(&TileId { z: 3, x: 3, y: 5 }), "213");
/// ```
pub fn quadkey(tile: &TileId) -> String {
    (1..=u32::from(tile.z))
        .rev()
        .map(|level| {
            // Total for any `z` (a u32 column has no bits past 32: those digits are 0).
            let bit = 1u64.checked_shl(level - 1).unwrap_or(0);
            let digit = u8::from(u64::from(tile.x) & bit != 0) + 2 * u8::from(u64::from(tile.y) & bit != 0);
            char::from(b'0' + digit)
        })
        .collect()
}

/// Expands every `{name}` in `template` with `value(name)`, leaving it as is on `None`.
pub fn render(template: &str, mut value: impl FnMut(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some((text, tail)) = rest.split_once('{') {
        out.push_str(text);
        let Some((name, after)) = tail.split_once('}') else {
            out.push('{');
            rest = tail;
            break;
        };
        match value(name) {
            Some(v) => out.push_str(&v),
            None => {
                out.push('{');
                out.push_str(name);
                out.push('}');
            }
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quadkeys() {
        assert_eq!(quadkey(&TileId { z: 0, x: 0, y: 0 }), "");
        assert_eq!(quadkey(&TileId { z: 1, x: 1, y: 1 }), "3");
        assert_eq!(quadkey(&TileId { z: 2, x: 1, y: 2 }), "21");
        // Any z is total: digits past the 32 bits of a column are 0.
        assert_eq!(quadkey(&TileId { z: 66, x: u32::MAX, y: 0 }), format!("{}{}", "0".repeat(34), "1".repeat(32)));
        // Bing's documentation: level 3, tile X 3, Y 5.
        assert_eq!(quadkey(&TileId { z: 3, x: 3, y: 5 }), "213");
        // Every tile of a level has its own key, of the level's length.
        let keys: std::collections::BTreeSet<_> =
            (0..8).flat_map(|x| (0..8).map(move |y| quadkey(&TileId { z: 3, x, y }))).collect();
        assert_eq!(keys.len(), 64);
        assert!(keys.iter().all(|k| k.len() == 3));
        let deep = TileId { z: 22, x: (1 << 22) - 1, y: 0 };
        assert_eq!(quadkey(&deep), "1".repeat(22));
    }

    #[test]
    fn expansion() {
        let t = TileId { z: 3, x: 5, y: 1 };
        assert_eq!(expand("https://t/{z}/{x}/{y}{r}.png", &t, &[], false), "https://t/3/5/1.png");
        assert_eq!(expand("https://t/{z}/{x}/{y}{r}.png", &t, &[], true), "https://t/3/5/1@2x.png");
        assert_eq!(expand("https://t/tiles/a{q}.jpeg?g=1", &t, &[], false), "https://t/tiles/a103.jpeg?g=1");
        assert_eq!(expand("{-y}", &t, &[], false), "6");
        // Unknown and unterminated braces are kept verbatim.
        assert_eq!(render("a{w}b{z", |n| (n == "z").then(|| "9".into())), "a{w}b{z");
        assert_eq!(placeholders("a{w}/{z}{"), ["w", "z"]);
    }
}
