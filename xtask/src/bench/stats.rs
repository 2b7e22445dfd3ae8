//! Order statistics over samples: every figure in the report is a median and a
//! p99 (nearest rank) of repeated measurements, never a single run.

/// Median, p99 and extremes of one set of samples.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    /// Number of samples.
    pub n: usize,
    /// 50th percentile (nearest rank).
    pub median: f64,
    /// 99th percentile (nearest rank); with fewer than 100 samples this is the max.
    pub p99: f64,
    /// Smallest sample.
    pub min: f64,
    /// Largest sample.
    pub max: f64,
}

/// Summarizes `samples`; `None` when there are none.
pub fn summarize(samples: &[f64]) -> Option<Summary> {
    let mut v: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let rank = |p: f64| v[((p * n as f64).ceil() as usize).clamp(1, n) - 1];
    Some(Summary {
        n,
        median: rank(0.50),
        p99: rank(0.99),
        min: v[0],
        max: v[n - 1],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        let s = summarize(&v).unwrap();
        assert_eq!((s.median, s.p99, s.min, s.max), (50.0, 99.0, 1.0, 100.0));
        let s = summarize(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.p99), (2.0, 3.0));
        assert!(summarize(&[]).is_none());
    }
}
