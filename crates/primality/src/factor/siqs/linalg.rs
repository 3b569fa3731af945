//! Subsets of relations whose exponent vectors sum to zero modulo 2, by Gauss-Jordan
//! elimination over GF(2) on the transposed matrix: one bit-packed row per prime, one bit per
//! relation. After elimination every relation that is not a pivot is free, and the dependency
//! it starts is itself plus the pivot relations of the rows in which its bit is set.

/// Relations whose exponent vectors are each a list of `(column, exponent)`; returns up to
/// `max` dependencies as lists of relation indices.
pub(crate) fn dependencies(rows: &[&[(u32, u32)]], columns: usize, max: usize) -> Vec<Vec<usize>> {
    let n = rows.len();
    let words = n.div_ceil(64);
    let mut m = vec![0u64; columns * words];
    for (r, row) in rows.iter().enumerate() {
        for &(c, e) in row.iter() {
            if e % 2 == 1 {
                m[c as usize * words + r / 64] ^= 1 << (r % 64);
            }
        }
    }
    // pivot_of[row] = the relation whose bit the row pivots on.
    let mut pivot_of: Vec<Option<usize>> = vec![None; columns];
    let mut is_pivot = vec![false; n];
    let mut next_row = 0;
    for (rel, pivot_flag) in is_pivot.iter_mut().enumerate() {
        let (w, bit) = (rel / 64, 1u64 << (rel % 64));
        let Some(p) = (next_row..columns).find(|&r| m[r * words + w] & bit != 0) else {
            continue;
        };
        // Move the pivot row up to next_row.
        for k in 0..words {
            m.swap(p * words + k, next_row * words + k);
        }
        let pivot: Vec<u64> = m[next_row * words..(next_row + 1) * words].to_vec();
        for r in 0..columns {
            if r != next_row && m[r * words + w] & bit != 0 {
                for (x, y) in m[r * words..(r + 1) * words].iter_mut().zip(&pivot) {
                    *x ^= y;
                }
            }
        }
        pivot_of[next_row] = Some(rel);
        *pivot_flag = true;
        next_row += 1;
    }
    let mut out = Vec::new();
    for free in (0..n).filter(|&r| !is_pivot[r]) {
        let (w, bit) = (free / 64, 1u64 << (free % 64));
        let mut dep = vec![free];
        for (r, pivot) in pivot_of.iter().enumerate().take(next_row) {
            if m[r * words + w] & bit != 0 {
                dep.extend(*pivot);
            }
        }
        out.push(dep);
        if out.len() >= max {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_dependencies() {
        // Columns 0..3; rows 0 + 1 + 2 = 0 and row 3 = row 4.
        let rows: Vec<Vec<(u32, u32)>> = vec![
            vec![(0, 1), (1, 3)],
            vec![(1, 1), (2, 1)],
            vec![(0, 1), (2, 5)],
            vec![(3, 1)],
            vec![(3, 1), (0, 2)],
        ];
        let refs: Vec<&[(u32, u32)]> = rows.iter().map(|r| r.as_slice()).collect();
        let deps = dependencies(&refs, 4, 10);
        assert_eq!(deps.len(), 2);
        for d in &deps {
            let mut parity = [0u32; 4];
            for &r in d {
                for &(c, e) in &rows[r] {
                    parity[c as usize] += e;
                }
            }
            assert!(parity.iter().all(|p| p % 2 == 0), "{d:?}");
        }
    }

    #[test]
    fn random_matrices_give_valid_dependencies() {
        let mut state = 0x1234_5678_9abc_def1u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let columns = 150;
        let rows: Vec<Vec<(u32, u32)>> = (0..170)
            .map(|_| {
                let mut row: Vec<(u32, u32)> = (0..6)
                    .map(|_| ((next() % columns) as u32, 1 + (next() % 3) as u32))
                    .collect();
                row.sort_unstable();
                row.dedup_by_key(|x| x.0);
                row
            })
            .collect();
        let refs: Vec<&[(u32, u32)]> = rows.iter().map(|r| r.as_slice()).collect();
        let deps = dependencies(&refs, columns as usize, 100);
        assert!(deps.len() >= 20);
        for d in &deps {
            let mut parity = vec![0u32; columns as usize];
            for &r in d {
                for &(c, e) in &rows[r] {
                    parity[c as usize] += e;
                }
            }
            assert!(parity.iter().all(|p| p % 2 == 0));
        }
    }
}
