//! An exact sum of floating-point numbers, rounded once at the end (Shewchuk's algorithm, as
//! Python's `math.fsum`). The result does not depend on the order of the values, so a sum
//! split across chunks, processes or indexers and merged equals the sum taken in one pass.

/// Running exact sum: non-overlapping partials, smallest magnitude first. The largest
/// partial is held inline and the others in a vector, which stays empty (no allocation)
/// while the sum is exact in one `f64`, as it is for byte counts below 2^53.
#[derive(Debug, Clone)]
pub struct ExactSum {
    /// The partials below the largest, smallest first.
    lows: Vec<f64>,
    /// The largest partial; NaN while the sum is empty (only finite values are added).
    hi: f64,
}

impl PartialEq for ExactSum {
    /// The same partials (so an empty sum equals an empty sum, whatever NaN compares as).
    fn eq(&self, other: &ExactSum) -> bool {
        self.lows == other.lows && self.hi.to_bits() == other.hi.to_bits()
    }
}

impl Default for ExactSum {
    fn default() -> ExactSum {
        ExactSum {
            lows: Vec::new(),
            hi: f64::NAN,
        }
    }
}

impl ExactSum {
    pub fn new() -> ExactSum {
        ExactSum::default()
    }

    /// Adds one finite value exactly.
    pub fn add(&mut self, x: f64) {
        if self.hi.is_nan() {
            self.hi = x;
        } else if self.lows.is_empty() {
            // One partial: its error-free sum with `x` (what the loop below does for one).
            let (big, small) = if x.abs() < self.hi.abs() {
                (self.hi, x)
            } else {
                (x, self.hi)
            };
            let hi = big + small;
            let lo = small - (hi - big);
            if lo != 0.0 {
                self.lows.push(lo);
            }
            self.hi = hi;
        } else {
            self.lows.push(self.hi);
            add_to_partials(&mut self.lows, x);
            self.hi = self.lows.pop().expect("a partial was just pushed");
        }
    }

    /// Adds another exact sum (order does not matter).
    pub fn merge(&mut self, other: &ExactSum) {
        for &p in &other.lows {
            self.add(p);
        }
        if !other.hi.is_nan() {
            self.add(other.hi);
        }
    }

    /// The sum, correctly rounded to the nearest `f64` (ties to even).
    pub fn value(&self) -> f64 {
        if self.hi.is_nan() {
            return 0.0;
        }
        // The partials from the largest down, as `math.fsum` pops them.
        let mut below = self.lows.iter().rev().copied();
        let mut hi = self.hi;
        let mut lo = 0.0;
        for y in below.by_ref() {
            let x = hi;
            hi = x + y;
            let yr = hi - x;
            lo = y - yr;
            if lo != 0.0 {
                break;
            }
        }
        if let Some(next) = below.next()
            && ((lo < 0.0 && next < 0.0) || (lo > 0.0 && next > 0.0))
        {
            let y = lo * 2.0;
            let x = hi + y;
            if y == x - hi {
                hi = x;
            }
        }
        hi
    }

    /// The partials as bit patterns (an exact, compact serialisation).
    pub fn to_bits(&self) -> Vec<u64> {
        let hi = (!self.hi.is_nan()).then_some(self.hi);
        self.lows.iter().chain(&hi).map(|p| p.to_bits()).collect()
    }

    /// Rebuilds a sum from `to_bits`; `None` when a pattern is not a finite number.
    pub fn from_bits(bits: &[u64]) -> Option<ExactSum> {
        let mut sum = ExactSum::new();
        for &b in bits {
            let x = f64::from_bits(b);
            if !x.is_finite() {
                return None;
            }
            sum.add(x);
        }
        Some(sum)
    }
}

/// Shewchuk's step: adds `x` to non-overlapping partials (smallest first), keeping them so.
fn add_to_partials(partials: &mut Vec<f64>, mut x: f64) {
    let mut i = 0;
    for j in 0..partials.len() {
        let mut y = partials[j];
        if x.abs() < y.abs() {
            std::mem::swap(&mut x, &mut y);
        }
        let hi = x + y;
        let lo = y - (hi - x);
        if lo != 0.0 {
            partials[i] = lo;
            i += 1;
        }
        x = hi;
    }
    partials.truncate(i);
    partials.push(x);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(xs: &[f64]) -> f64 {
        let mut s = ExactSum::new();
        xs.iter().for_each(|&x| s.add(x));
        s.value()
    }

    #[test]
    fn exact_where_naive_summation_is_not() {
        // Values from Python's fsum documentation and tests.
        assert_eq!(sum(&[0.1; 10]), 1.0);
        assert_ne!([0.1; 10].iter().sum::<f64>(), 1.0);
        assert_eq!(
            sum(&[1e100, 1.0, -1e100, 1e-100, 1e50, -1.0, -1e50]),
            1e-100
        );
        assert_eq!(
            sum(&[2.0f64.powi(53), -0.5, -2.0f64.powi(-54)]),
            2.0f64.powi(53) - 1.0
        );
        assert_eq!(sum(&[1.0, 1e-16, 1e-16]), 1.0000000000000002);
        assert_eq!(sum(&[]), 0.0);
        assert_eq!(sum(&[0.1, 0.2]), 0.30000000000000004);
    }

    #[test]
    fn order_and_splitting_do_not_change_the_result() {
        let xs: Vec<f64> = (0..500)
            .map(|i| ((i * 7919) % 1000) as f64 / 7.0 - 60.0)
            .collect();
        let whole = sum(&xs);
        let mut rev = xs.clone();
        rev.reverse();
        assert_eq!(sum(&rev), whole);
        let (a, b) = xs.split_at(123);
        let (mut sa, mut sb) = (ExactSum::new(), ExactSum::new());
        a.iter().for_each(|&x| sa.add(x));
        b.iter().for_each(|&x| sb.add(x));
        sb.merge(&sa);
        assert_eq!(sb.value(), whole);
        let back = ExactSum::from_bits(&sb.to_bits()).unwrap();
        assert_eq!(back.value(), whole);
    }

    /// The algorithm as first written, on one vector of partials, with `value` on a copy.
    fn plain(xs: &[f64]) -> (Vec<f64>, f64) {
        let mut partials = Vec::new();
        for &x in xs {
            add_to_partials(&mut partials, x);
        }
        let mut p = partials.clone();
        let Some(mut hi) = p.pop() else {
            return (partials, 0.0);
        };
        let mut lo = 0.0;
        while let Some(y) = p.pop() {
            let x = hi;
            hi = x + y;
            lo = y - (hi - x);
            if lo != 0.0 {
                break;
            }
        }
        if let Some(&next) = p.last()
            && ((lo < 0.0 && next < 0.0) || (lo > 0.0 && next > 0.0))
        {
            let y = lo * 2.0;
            let x = hi + y;
            if y == x - hi {
                hi = x;
            }
        }
        (partials, hi)
    }

    #[test]
    fn the_inline_partial_keeps_the_algorithm() {
        let mut rng = crate::test_rng::Rng(0x5eed_5eed_1234_9876);
        let mut multi = 0;
        for _ in 0..5_000 {
            let n = rng.below(12);
            let xs: Vec<f64> = (0..n)
                .map(|_| {
                    let mantissa = (rng.next() % 2_000_001) as f64 - 1_000_000.0;
                    let scale = [1.0, 0.1, 1e-17, 1e16, 1e100, 3.0][rng.below(6)];
                    mantissa * scale
                })
                .collect();
            let mut s = ExactSum::new();
            xs.iter().for_each(|&x| s.add(x));
            let (partials, value) = plain(&xs);
            multi += usize::from(partials.len() > 1);
            assert_eq!(s.value().to_bits(), value.to_bits(), "{xs:?}");
            let bits: Vec<u64> = partials.iter().map(|p| p.to_bits()).collect();
            assert_eq!(s.to_bits(), bits, "{xs:?}");
            let back = ExactSum::from_bits(&bits).expect("finite");
            assert_eq!(back.value().to_bits(), value.to_bits(), "{xs:?}");
        }
        assert!(multi > 1_000, "the general path ran {multi} times");
        assert_eq!(ExactSum::new(), ExactSum::new());
        assert_eq!(ExactSum::new().to_bits(), Vec::<u64>::new());
    }

    #[test]
    fn integers_sum_exactly() {
        let xs: Vec<f64> = (0..10_000i64)
            .map(|i| (i * 1_000_003 % 987_654) as f64)
            .collect();
        let exact: i64 = (0..10_000i64).map(|i| i * 1_000_003 % 987_654).sum();
        assert_eq!(sum(&xs), exact as f64);
    }
}
