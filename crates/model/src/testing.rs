//! Helpers shared by the unit tests.

use burn::tensor::Tensor;

/// A tensor's values on the host, as `f32`.
pub(crate) fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("float values")
}
