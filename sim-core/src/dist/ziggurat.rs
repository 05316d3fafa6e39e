//! Marsaglia and Tsang's ziggurat (2000) for the standard exponential and the standard normal:
//! 256 layers; about 98 % of draws take one `next_u64`, a multiplication and a comparison, and
//! no logarithm.
//!
//! The area under the density (unnormalised, `f(0) = 1`) is cut into 256 layers of equal area
//! `v`: layer 0 is the rectangle `[0, r] x [0, f(r)]` plus the tail beyond `r`, layer `i` (1 to
//! 255) the rectangle `[0, X[i]] x [f(X[i]), f(X[i+1])]`, with `X[1] = r > X[2] > ... > X[255] >
//! X[256] = 0`, and `X[0] = v / f(r)` the width of a rectangle of area `v` and height `f(r)`.
//! A draw picks a layer uniformly (the low 8 bits) and a point `x = u * X[i]` uniformly across
//! its width (the high bits). Under `X[i+1]` the point lies under the density at every height of
//! the layer: accepted at once, for 97.8 % of the exponential's draws and 98.5 % of the normal's
//! (the mean of `X[i+1] / X[i]`). Otherwise layer 0 samples its tail, and any other layer draws
//! a height in the wedge between `f(X[i])` and `f(X[i+1])` and accepts under `f(x)`, or starts
//! again with a fresh layer.
//!
//! The law is exact for the tables as written: the only approximation is that the 256 layers
//! have equal area up to the rounding of the tables (the top layer closes to within 5e-16 of
//! `v`; see `build_tables`, compiled for tests only: the tables are its output, written once as
//! literals).

use crate::rng::SimRng;

use super::ziggurat_tables::{EXP_F, EXP_X, NORM_F, NORM_X};

/// Entries of a table: the 256 layers' widths and the closing `X[256] = 0`.
pub(super) const TABLE_LEN: usize = 257;

/// The exponential's base-layer edge for 256 layers (Marsaglia and Tsang's `r`, to f64
/// precision: the recursion in `build_tables` closes at the top with it).
pub(super) const EXP_R: f64 = 7.697_117_470_131_05;

/// The normal's base-layer edge for 256 layers (Marsaglia and Tsang's `r`).
pub(super) const NORM_R: f64 = 3.654_152_885_361_009;

/// `2^-53`: a 53-bit integer times this is a uniform fraction.
const FRACTION_53: f64 = 1.0 / (1u64 << 53) as f64;

/// `2^-52`, for the normal's 52-bit magnitude.
const FRACTION_52: f64 = 1.0 / (1u64 << 52) as f64;

/// The unnormalised exponential density `e^-x`.
pub(super) fn exp_density(x: f64) -> f64 {
    libm::exp(-x)
}

/// The inverse of [`exp_density`].
#[cfg(test)]
pub(super) fn exp_density_inverse(y: f64) -> f64 {
    -libm::log(y)
}

/// The exponential's layer area for base edge `r`: the rectangle `r e^-r` plus the tail `e^-r`.
#[cfg(test)]
pub(super) fn exp_layer_area(r: f64) -> f64 {
    (r + 1.0) * libm::exp(-r)
}

/// The unnormalised normal density `e^(-x^2/2)`.
pub(super) fn norm_density(x: f64) -> f64 {
    libm::exp(-x * x / 2.0)
}

/// The inverse of [`norm_density`] on `[0, inf)`.
#[cfg(test)]
pub(super) fn norm_density_inverse(y: f64) -> f64 {
    libm::sqrt(-2.0 * libm::log(y))
}

/// The normal's layer area for base edge `r`: the rectangle `r f(r)` plus the tail
/// `sqrt(pi/2) erfc(r / sqrt 2)`.
#[cfg(test)]
pub(super) fn norm_layer_area(r: f64) -> f64 {
    r * norm_density(r)
        + libm::sqrt(std::f64::consts::PI / 2.0) * libm::erfc(r / std::f64::consts::SQRT_2)
}

/// Builds a 256-layer ziggurat's tables `(X, F)` for a decreasing density `f` with `f(0) = 1`,
/// base edge `r` and layer area `v`: `X[0] = v / f(r)`, `X[1] = r`, `X[i] = f_inv(v / X[i-1] +
/// f(X[i-1]))` for `i` in 2..=255, `X[256] = 0`, and `F[i] = f(X[i])`.
///
/// This is how `ziggurat_tables.rs` was made, once, with `r` = [`EXP_R`] and `v` =
/// `exp_layer_area(r)`, and `r` = [`NORM_R`] and `v` = `norm_layer_area(r)`: only the
/// `libm` crate and IEEE `+ - * /` (no fused multiply-add), so every platform computes the same
/// bits, and a unit test re-runs it and compares the literals bit for bit. The layer areas are
/// computed from `r` rather than taken as published (`v` = 3.949659822581572e-3 and
/// 4.92867323399e-3, which agree to 4e-15 and 3e-12): with them the top layer's area
/// `X[255] (1 - F[255])` misses `v` by 2e-16 and 5e-16 instead of 5e-15 and 5e-12.
#[cfg(test)]
pub(super) fn build_tables(
    r: f64,
    v: f64,
    f: fn(f64) -> f64,
    f_inv: fn(f64) -> f64,
) -> ([f64; TABLE_LEN], [f64; TABLE_LEN]) {
    let mut x = [0.0; TABLE_LEN];
    x[0] = v / f(r);
    x[1] = r;
    for i in 2..TABLE_LEN - 1 {
        x[i] = f_inv(v / x[i - 1] + f(x[i - 1]));
    }
    let mut y = [0.0; TABLE_LEN];
    for (yi, &xi) in y.iter_mut().zip(&x) {
        *yi = f(xi);
    }
    (x, y)
}

/// A standard exponential draw.
#[inline]
pub fn sample_exp(rng: &mut SimRng) -> f64 {
    let bits = rng.next_u64();
    let i = (bits & 0xff) as usize;
    // The high 53 bits, at the midpoints of their grid: in (0, 1), mean exactly 1/2.
    let x = ((bits >> 11) as f64 + 0.5) * FRACTION_53 * EXP_X[i];
    if x < EXP_X[i + 1] {
        return x;
    }
    exp_slow(rng, i, x)
}

/// The exponential's rare cases: the tail beyond `r` and the wedges (2.2 % of draws).
#[cold]
#[inline(never)]
fn exp_slow(rng: &mut SimRng, mut i: usize, mut x: f64) -> f64 {
    let mut offset = 0.0;
    loop {
        if i == 0 {
            // Memorylessness: beyond `r` the exponential is `r` plus a fresh exponential.
            offset += EXP_R;
        } else if EXP_F[i + 1] + (EXP_F[i] - EXP_F[i + 1]) * rng.uniform() < exp_density(x) {
            return offset + x;
        }
        let bits = rng.next_u64();
        i = (bits & 0xff) as usize;
        x = ((bits >> 11) as f64 + 0.5) * FRACTION_53 * EXP_X[i];
        if x < EXP_X[i + 1] {
            return offset + x;
        }
    }
}

/// A standard normal draw.
#[inline]
pub(crate) fn sample_standard_normal(rng: &mut SimRng) -> f64 {
    let bits = rng.next_u64();
    let i = (bits & 0xff) as usize;
    // Bit 11 is the sign and the high 52 bits the magnitude, at the midpoints of their grid:
    // exactly symmetric, never zero.
    let x = ((bits >> 12) as f64 + 0.5) * FRACTION_52 * NORM_X[i];
    if x < NORM_X[i + 1] {
        return signed(bits, x);
    }
    normal_slow(rng, bits, x)
}

/// `x` with the sign bit of `bits`.
#[inline]
fn signed(bits: u64, x: f64) -> f64 {
    if bits & (1 << 11) == 0 { x } else { -x }
}

/// The normal's rare cases: the tail beyond `r` and the wedges (1.5 % of draws).
#[cold]
#[inline(never)]
fn normal_slow(rng: &mut SimRng, mut bits: u64, mut x: f64) -> f64 {
    loop {
        let i = (bits & 0xff) as usize;
        if i == 0 {
            return signed(bits, NORM_R + normal_tail_excess(rng));
        }
        if NORM_F[i + 1] + (NORM_F[i] - NORM_F[i + 1]) * rng.uniform() < norm_density(x) {
            return signed(bits, x);
        }
        bits = rng.next_u64();
        let j = (bits & 0xff) as usize;
        x = ((bits >> 12) as f64 + 0.5) * FRACTION_52 * NORM_X[j];
        if x < NORM_X[j + 1] {
            return signed(bits, x);
        }
    }
}

/// How far beyond `r` a normal tail draw lies, by Marsaglia's method (1964): with `a = -ln(u1) /
/// r` and `b = -ln(u2)`, accept `a` when `2b >= a^2`; `r + a` then has the normal's law
/// conditioned on exceeding `r`.
fn normal_tail_excess(rng: &mut SimRng) -> f64 {
    loop {
        let a = -libm::log(rng.uniform_open0()) / NORM_R;
        let b = -libm::log(rng.uniform_open0());
        if 2.0 * b >= a * a {
            return a;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The file's literals as the generator writes them: `{:?}` prints the shortest decimal that
    /// parses back to the same bits.
    fn render(x: &[f64; TABLE_LEN], name: &str, out: &mut String) {
        out.push_str(&format!(
            "#[rustfmt::skip]\npub(super) const {name}: [f64; TABLE_LEN] = [\n"
        ));
        for row in x.chunks(4) {
            let cells: Vec<String> = row.iter().map(|v| format!("{v:?}")).collect();
            out.push_str(&format!("    {},\n", cells.join(", ")));
        }
        out.push_str("];\n");
    }

    fn exp_tables() -> ([f64; TABLE_LEN], [f64; TABLE_LEN]) {
        build_tables(
            EXP_R,
            exp_layer_area(EXP_R),
            exp_density,
            exp_density_inverse,
        )
    }

    fn norm_tables() -> ([f64; TABLE_LEN], [f64; TABLE_LEN]) {
        build_tables(
            NORM_R,
            norm_layer_area(NORM_R),
            norm_density,
            norm_density_inverse,
        )
    }

    #[test]
    fn tables_are_the_generators_output_bit_for_bit() {
        let (ex, ef) = exp_tables();
        let (nx, nf) = norm_tables();
        // The file is the generator's text, so regenerating it is copying this out.
        let mut text = String::from(TABLES_HEADER);
        for (name, t) in [
            ("EXP_X", &ex),
            ("EXP_F", &ef),
            ("NORM_X", &nx),
            ("NORM_F", &nf),
        ] {
            text.push('\n');
            render(t, name, &mut text);
        }
        assert!(
            text == include_str!("ziggurat_tables.rs"),
            "ziggurat_tables.rs is not the generator's output; it should read:\n{text}"
        );
        // And the literals parse back to the very bits computed.
        for (name, built, written) in [
            ("EXP_X", ex, EXP_X),
            ("EXP_F", ef, EXP_F),
            ("NORM_X", nx, NORM_X),
            ("NORM_F", nf, NORM_F),
        ] {
            for i in 0..TABLE_LEN {
                assert_eq!(built[i].to_bits(), written[i].to_bits(), "{name}[{i}]");
            }
        }
    }

    const TABLES_HEADER: &str = "\
//! The ziggurat's tables, written by `ziggurat::build_tables` (see there how) and checked bit for
//! bit against it by a unit test: do not edit by hand.

use super::ziggurat::TABLE_LEN;
";

    #[test]
    fn the_constants_close_the_ziggurat() {
        // Published layer areas: ours, computed from r, agree with them to their printed digits.
        assert!((exp_layer_area(EXP_R) / 3.949_659_822_581_572e-3 - 1.0).abs() < 1e-14);
        assert!((norm_layer_area(NORM_R) / 4.928_673_233_99e-3 - 1.0).abs() < 1e-11);
        for (x, f, v, r) in [
            (EXP_X, EXP_F, exp_layer_area(EXP_R), EXP_R),
            (NORM_X, NORM_F, norm_layer_area(NORM_R), NORM_R),
        ] {
            // The widths decrease to the top, and the top layer's area is v: r is the root of
            // the closing condition to f64 precision (a relative change of 1e-12 in r moves
            // this by 1e-11).
            assert!((2..TABLE_LEN).all(|i| x[i] < x[i - 1]), "r {r}");
            assert_eq!(f[TABLE_LEN - 1], 1.0);
            let top = x[255] * (1.0 - f[255]);
            assert!((top - v).abs() < 1e-15, "r {r}: top layer {top}, v {v}");
            // Layer 0 is the rectangle up to r plus the tail: its width times f(r) is v.
            assert!((x[0] * f[1] / v - 1.0).abs() < 1e-15, "r {r}");
        }
    }
}
