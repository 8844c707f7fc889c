//! An exact sum of floating-point numbers, rounded once at the end (Shewchuk's algorithm, as
//! Python's `math.fsum`). The result does not depend on the order of the values, so a sum
//! split across chunks, processes or indexers and merged equals the sum taken in one pass.

/// Running exact sum: non-overlapping partials, smallest magnitude first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExactSum {
    partials: Vec<f64>,
}

impl ExactSum {
    pub fn new() -> ExactSum {
        ExactSum::default()
    }

    /// Adds one finite value exactly.
    pub fn add(&mut self, mut x: f64) {
        let mut i = 0;
        for j in 0..self.partials.len() {
            let mut y = self.partials[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            let lo = y - (hi - x);
            if lo != 0.0 {
                self.partials[i] = lo;
                i += 1;
            }
            x = hi;
        }
        self.partials.truncate(i);
        self.partials.push(x);
    }

    /// Adds another exact sum (order does not matter).
    pub fn merge(&mut self, other: &ExactSum) {
        for &p in &other.partials {
            self.add(p);
        }
    }

    /// The sum, correctly rounded to the nearest `f64` (ties to even).
    pub fn value(&self) -> f64 {
        let mut partials = self.partials.clone();
        let Some(mut hi) = partials.pop() else {
            return 0.0;
        };
        let mut lo = 0.0;
        while let Some(y) = partials.pop() {
            let x = hi;
            hi = x + y;
            let yr = hi - x;
            lo = y - yr;
            if lo != 0.0 {
                break;
            }
        }
        if let Some(&next) = partials.last()
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
        self.partials.iter().map(|p| p.to_bits()).collect()
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

    #[test]
    fn integers_sum_exactly() {
        let xs: Vec<f64> = (0..10_000i64)
            .map(|i| (i * 1_000_003 % 987_654) as f64)
            .collect();
        let exact: i64 = (0..10_000i64).map(|i| i * 1_000_003 % 987_654).sum();
        assert_eq!(sum(&xs), exact as f64);
    }
}
