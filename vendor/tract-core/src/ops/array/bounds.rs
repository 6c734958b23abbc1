//! onnxlet: bounds checks for the index operators (an index out of bounds panicked in them).

use crate::internal::*;
/// onnxlet: `index` into an axis of `len` (a negative index counts from the end), or an error
/// naming `op` when it is out of bounds, which ONNX makes an error. Gather, GatherElements,
/// GatherND and ScatterElements indexed with it unchecked, and panicked (a wasm trap) on an index
/// out of bounds, or read another row's values.
pub(crate) fn resolve_index(op: &str, index: i64, len: usize) -> TractResult<usize> {
    let resolved = if index < 0 { index.checked_add(len as i64) } else { Some(index) };
    match resolved {
        Some(resolved) if (0..len as i64).contains(&resolved) => Ok(resolved as usize),
        _ if len == 0 => bail!("{op} index {index} is out of bounds: the indexed axis is empty"),
        _ => bail!(
            "{op} index {index} is out of bounds for an axis of size {len} (valid indices are {} to {})",
            -(len as i64),
            len - 1
        ),
    }
}

/// onnxlet: checks that off `axis`, `indices` (or updates) of `op` are no larger than `data`,
/// which their coordinates address directly.
pub(crate) fn check_index_shape(
    op: &str,
    what: &str,
    shape: &[usize],
    data: &[usize],
    axis: usize,
) -> TractResult<()> {
    ensure!(
        shape.len() == data.len(),
        "{op} {what} have rank {}, data has rank {}",
        shape.len(),
        data.len()
    );
    for (d, (&s, &len)) in shape.iter().zip(data).enumerate() {
        ensure!(
            d == axis || s <= len,
            "{op} {what} have shape {shape:?}, larger than the data's {data:?} on axis {d}"
        );
    }
    Ok(())
}

#[cfg(test)]
mod onnxlet_tests {
    use super::*;

    #[test]
    fn negative_indices_count_from_the_end_and_others_are_refused() {
        assert_eq!(resolve_index("Gather", 2, 3).unwrap(), 2);
        assert_eq!(resolve_index("Gather", -3, 3).unwrap(), 0);
        for bad in [3, -4, i64::MIN, i64::MAX] {
            let message = resolve_index("Gather", bad, 3).unwrap_err().to_string();
            assert!(message.contains(&format!("Gather index {bad} is out of bounds")), "{message}");
            assert!(message.contains("-3 to 2"), "{message}");
        }
        let message = resolve_index("Gather", 0, 0).unwrap_err().to_string();
        assert!(message.contains("empty"), "{message}");
    }

    #[test]
    fn indices_may_be_smaller_than_the_data_off_the_axis() {
        check_index_shape("GatherElements", "indices", &[3, 9], &[3, 4], 1).unwrap();
        check_index_shape("GatherElements", "indices", &[2, 1], &[3, 4], 1).unwrap();
        let message =
            check_index_shape("GatherElements", "indices", &[4, 1], &[3, 4], 1).unwrap_err();
        assert!(message.to_string().contains("on axis 0"), "{message}");
        assert!(check_index_shape("GatherElements", "indices", &[3], &[3, 4], 0).is_err());
    }
}
