//! Flex tensors as raw `f32` memory and back, and memory written before it is read (without
//! the zero-fill that a fresh `vec![0.0; n]` or a new flex tensor costs).

use std::mem::MaybeUninit;

use burn::backend::Flex;
use burn::backend::flex::FlexTensor;
use burn::tensor::{DType, Tensor, TensorData};

use super::packing::Weight;

/// A tensor's contiguous `f32` memory on flex.
pub(crate) struct Memory {
    tensor: FlexTensor,
    /// The tensor's own memory, not a contiguous copy made here.
    own: bool,
}

impl Memory {
    /// `None` unless `tensor` is an `f32` flex tensor.
    pub fn of<const D: usize>(tensor: &Tensor<D>) -> Option<Self> {
        let flex = tensor.clone().try_into_primitive::<Flex>().ok()?;
        if flex.dtype() != DType::F32 {
            return None;
        }
        Some(match flex.is_contiguous() {
            true => Self {
                tensor: flex,
                own: true,
            },
            false => Self {
                tensor: flex.to_contiguous(),
                own: false,
            },
        })
    }

    /// The values as a weight, which the packed-weight cache may key on when they are the
    /// tensor's own memory.
    pub fn weight(&self) -> Weight<'_> {
        Weight {
            values: self.values(),
            owner: self.own.then_some(&self.tensor),
        }
    }

    pub fn values(&self) -> &[f32] {
        self.tensor
            .as_slice::<f32>()
            .expect("made contiguous f32 in `of`")
    }
}

/// `tensor` as a flex tensor whose memory is its own, contiguous from the start (copied when
/// shared, offset, strided or not `f32`), for computing in it.
pub(crate) fn writable<const D: usize>(tensor: Tensor<D>) -> FlexTensor {
    let shape = tensor.dims();
    let flex = tensor
        .try_into_primitive::<Flex>()
        .expect("the gradient lives on the scan's backend");
    let in_place = flex.dtype() == DType::F32
        && flex.is_unique()
        && flex.layout().contiguous_offsets() == Some((0, shape.iter().product()))
        && flex.bytes().len() == shape.iter().product::<usize>() * 4;
    if in_place {
        return flex;
    }
    let values = Tensor::<D>::from_primitive::<Flex>(flex)
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("f32 after conversion");
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// A flex tensor owning `values`.
pub(crate) fn tensor<const D: usize>(values: Vec<f32>, shape: [usize; D]) -> Tensor<D> {
    Tensor::from_primitive::<Flex>(FlexTensor::from_data(TensorData::new(values, shape)))
}

/// `len` floats to be written before anything reads them: allocated without the zero-fill
/// (a pass over memory as long as the write itself).
pub(crate) fn unfilled(len: usize) -> Vec<MaybeUninit<f32>> {
    let mut values = Vec::with_capacity(len);
    // SAFETY: `MaybeUninit` needs no initialisation; the capacity is `len`.
    unsafe { values.set_len(len) };
    values
}

/// The floats of [`unfilled`] memory.
///
/// # Safety
/// Every element has been written.
pub(crate) unsafe fn filled(values: Vec<MaybeUninit<f32>>) -> Vec<f32> {
    let mut values = std::mem::ManuallyDrop::new(values);
    let (ptr, len, capacity) = (values.as_mut_ptr(), values.len(), values.capacity());
    // SAFETY: same allocation, layout and length; every element initialised (the caller).
    unsafe { Vec::from_raw_parts(ptr.cast(), len, capacity) }
}

/// A part of [`unfilled`] memory, read as floats.
///
/// # Safety
/// Every element of `values` has been written.
pub(crate) unsafe fn written(values: &[MaybeUninit<f32>]) -> &[f32] {
    // SAFETY: same layout; initialised (the caller).
    unsafe { std::slice::from_raw_parts(values.as_ptr().cast(), values.len()) }
}

/// `dst ← src` into memory that may not have been written.
#[inline(always)]
pub(crate) fn write(dst: &mut [MaybeUninit<f32>], src: &[f32]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        d.write(s);
    }
}

/// `dst = a ⊙ b` element-wise.
#[inline(always)]
pub(crate) fn multiply(dst: &mut [f32], a: &[f32], b: &[f32]) {
    for ((d, &a), &b) in dst.iter_mut().zip(a).zip(b) {
        *d = a * b;
    }
}

/// `acc += a ⊙ b` element-wise.
#[inline(always)]
pub(crate) fn multiply_add(acc: &mut [f32], a: &[f32], b: &[f32]) {
    for ((acc, &a), &b) in acc.iter_mut().zip(a).zip(b) {
        *acc = a.mul_add(b, *acc);
    }
}

/// `acc += x` element-wise.
#[inline(always)]
pub(crate) fn add_assign(acc: &mut [f32], x: &[f32]) {
    for (a, &v) in acc.iter_mut().zip(x) {
        *a += v;
    }
}
