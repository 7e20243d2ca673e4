//! Gradient norms and clipping by the global norm of all parameters' gradients.
//!
//! [`clip_global_norm`] does what PyTorch's `torch.nn.utils.clip_grad_norm_(params, max_norm)`
//! does: the global norm is the L2 norm of the vector of every parameter's gradient norm, and
//! when it exceeds `max_norm` every gradient is multiplied by the same factor
//! `max_norm / (norm + 1e-6)`. burn-optim's `GradientClippingConfig::Norm` instead scales each
//! tensor by its own norm ([`ClipScope::PerTensor`](crate::ClipScope)).

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

/// PyTorch's `clip_grad_norm_` adds this to the norm before dividing.
const EPSILON: f32 = 1e-6;

/// The gradient norms of one step, by parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct GradientNorms {
    /// Each parameter with a gradient: its path in the module (`model.recurrent.layers.0.
    /// hidden_weight`) and the L2 norm of its gradient.
    pub per_tensor: Vec<(String, f32)>,
    /// The L2 norm of all gradients together (of the per-tensor norms).
    pub global: f32,
}

impl GradientNorms {
    /// The norms of the gradients in `grads` of `module`'s parameters, read from the device in
    /// one transfer.
    pub fn of<M: Module>(module: &M, grads: &GradientsParams) -> Self {
        let mut collector = SquaredNorms {
            grads,
            path: Vec::new(),
            names: Vec::new(),
            squares: Vec::new(),
        };
        module.visit(&mut collector);
        if collector.squares.is_empty() {
            return Self {
                per_tensor: Vec::new(),
                global: 0.0,
            };
        }
        let squares: Vec<f32> = Tensor::cat(collector.squares, 0)
            .into_data()
            .try_into_vec_as::<f32>()
            .expect("a float tensor reads as f32");
        let norms: Vec<f32> = squares.iter().map(|s| s.sqrt()).collect();
        let global = norms.iter().map(|n| n * n).sum::<f32>().sqrt();
        Self {
            per_tensor: collector.names.into_iter().zip(norms).collect(),
            global,
        }
    }

    /// The first parameter whose gradient norm is NaN or infinite (a gradient with a NaN or an
    /// infinite entry, or one too large for `f32`).
    pub fn first_non_finite(&self) -> Option<&(String, f32)> {
        self.per_tensor.iter().find(|(_, norm)| !norm.is_finite())
    }
}

/// Scales every gradient in `grads` by `max_norm / (norms.global + 1e-6)` when that is below 1
/// (PyTorch's `clip_grad_norm_`); returns the factor applied (1 when nothing was clipped).
pub fn clip_global_norm<M: Module>(
    module: &M,
    grads: &mut GradientsParams,
    norms: &GradientNorms,
    max_norm: f32,
) -> f32 {
    let factor = max_norm / (norms.global + EPSILON);
    if factor >= 1.0 {
        return 1.0;
    }
    module.visit(&mut Scale { grads, factor });
    factor
}

/// Multiplies every gradient in `grads` by `factor`.
pub(crate) fn scale_gradients<M: Module>(module: &M, grads: &mut GradientsParams, factor: f32) {
    module.visit(&mut Scale { grads, factor });
}

/// Collects `Σ g²` of each parameter's gradient as a `[1]` tensor, with the parameter's path.
struct SquaredNorms<'a> {
    grads: &'a GradientsParams,
    path: Vec<String>,
    names: Vec<String>,
    squares: Vec<Tensor<1>>,
}

impl ModuleVisitor for SquaredNorms<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = self.grads.get::<D>(param.id) {
            self.names.push(self.path.join("."));
            self.squares.push(grad.square().sum());
        }
    }
}

/// Multiplies each parameter's gradient by `factor`.
struct Scale<'a> {
    grads: &'a mut GradientsParams,
    factor: f32,
}

impl ModuleVisitor for Scale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let id: ParamId = param.id;
        if let Some(grad) = self.grads.remove::<D>(id) {
            self.grads.register(id, grad.mul_scalar(self.factor));
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, TensorData};
    use serde::Deserialize;

    use super::*;

    /// Three parameters shaped like the fixture's gradients.
    #[derive(Module, Debug)]
    struct Three {
        a: Param<Tensor<2>>,
        b: Param<Tensor<2>>,
        c: Param<Tensor<1>>,
    }

    #[derive(Deserialize)]
    struct Fixture {
        cases: Vec<Case>,
    }

    #[derive(Deserialize)]
    struct Case {
        name: String,
        max_norm: f32,
        total_norm: f32,
        before: Vec<Gradient>,
        after: Vec<Vec<f32>>,
    }

    #[derive(Deserialize)]
    struct Gradient {
        shape: Vec<usize>,
        values: Vec<f32>,
    }

    fn module(device: &Device) -> Three {
        Three {
            a: Param::from_tensor(Tensor::zeros([4, 3], device)),
            b: Param::from_tensor(Tensor::zeros([4, 4], device)),
            c: Param::from_tensor(Tensor::zeros([4], device)),
        }
    }

    fn tensor<const D: usize>(g: &Gradient, device: &Device) -> Tensor<D> {
        Tensor::from_data(TensorData::new(g.values.clone(), g.shape.clone()), device)
    }

    fn values<const D: usize>(grads: &GradientsParams, id: ParamId) -> Vec<f32> {
        grads
            .get::<D>(id)
            .unwrap()
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap()
    }

    fn assert_close(actual: f32, expected: f32, what: &str) {
        let tolerance = 2e-6 * expected.abs().max(1e-6);
        assert!(
            (actual - expected).abs() <= tolerance,
            "{what}: {actual} vs PyTorch's {expected}"
        );
    }

    /// Against `torch.nn.utils.clip_grad_norm_` (tests/fixtures/clipping.py).
    #[test]
    fn clips_like_pytorch() {
        let fixture: Fixture =
            serde_json::from_str(include_str!("../tests/fixtures/clipping.json")).unwrap();
        let device = Device::flex();
        for case in &fixture.cases {
            let module = module(&device);
            let mut grads = GradientsParams::new();
            grads.register(module.a.id, tensor::<2>(&case.before[0], &device));
            grads.register(module.b.id, tensor::<2>(&case.before[1], &device));
            grads.register(module.c.id, tensor::<1>(&case.before[2], &device));
            let norms = GradientNorms::of(&module, &grads);
            assert_close(norms.global, case.total_norm, &case.name);
            let names: Vec<&str> = norms.per_tensor.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(names, ["a", "b", "c"]);
            let factor = clip_global_norm(&module, &mut grads, &norms, case.max_norm);
            assert_eq!(
                factor < 1.0,
                case.total_norm > case.max_norm,
                "{}",
                case.name
            );
            let after = [
                values::<2>(&grads, module.a.id),
                values::<2>(&grads, module.b.id),
                values::<1>(&grads, module.c.id),
            ];
            for (ours, theirs) in after.iter().zip(&case.after) {
                for (a, b) in ours.iter().zip(theirs) {
                    assert_close(*a, *b, &case.name);
                }
            }
            let clipped = GradientNorms::of(&module, &grads).global;
            assert!(clipped <= case.max_norm.max(case.total_norm) * (1.0 + 1e-5));
        }
    }

    #[test]
    fn non_finite_gradients_are_named() {
        let device = Device::flex();
        let module = module(&device);
        let mut grads = GradientsParams::new();
        grads.register(module.a.id, Tensor::<2>::ones([4, 3], &device));
        grads.register(
            module.b.id,
            Tensor::<2>::ones([4, 4], &device).mul_scalar(f32::NAN),
        );
        let norms = GradientNorms::of(&module, &grads);
        assert_eq!(norms.per_tensor.len(), 2, "c has no gradient");
        assert_eq!(norms.first_non_finite().unwrap().0, "b");
        assert!(norms.global.is_nan());
    }
}
