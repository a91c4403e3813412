//! Numbers as the tables print them: counts grouped in thousands, bytes in binary units, large
//! counts in SI units. Shared by the CLI, the page and the training's sentences.

/// `1234567` as `1,234,567`. By hand: the standard library has no grouping, and one function is
/// less than a locale crate.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// Bytes in binary units, to three decimals: `1.234 GiB`.
pub fn bytes(n: u64) -> String {
    scaled(n, 1024.0, [" B", " KiB", " MiB", " GiB", " TiB"])
}

/// Large counts in SI units, to three decimals: `7.485 G`.
pub fn si(n: u64) -> String {
    scaled(n, 1000.0, ["", " k", " M", " G", " T"])
}

fn scaled(n: u64, base: f64, units: [&str; 5]) -> String {
    let mut value = n as f64;
    let mut unit = 0;
    while value >= base && unit + 1 < units.len() {
        value /= base;
        unit += 1;
    }
    if unit == 0 { format!("{n}{}", units[0]) } else { format!("{value:.3}{}", units[unit]) }
}
