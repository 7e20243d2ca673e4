//! PyTorch interchange: load and save `nn.RNN` / `nn.LSTM` / `nn.GRU` (and `nn.Linear` head)
//! weights as `.safetensors` under PyTorch's own names (`weight_ih_l0`, `bias_hh_l1_reverse`,
//! `weight_hr_l0` for an LSTM with `proj_size`, ...).
//!
//! PyTorch stores `weight_ih` as `[gates·H, d_in]`; this crate keeps the transpose. The gate
//! order (`i, f, g, o` for LSTM, `r, z, n` for GRU) is the same on both sides, so no reordering.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::module::Param;
use burn::tensor::{Device, Tensor, TensorData};
use safetensors::{Dtype, SafeTensors};

use crate::error::{ModelError, Result};
use crate::head::SequenceModel;
use crate::recurrent::Recurrent;

/// A `.safetensors` file read into memory, with errors that name the file and the tensor.
pub struct TensorFile {
    path: PathBuf,
    bytes: Vec<u8>,
}

impl TensorFile {
    /// Reads the whole file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let bytes = std::fs::read(&path).map_err(|e| ModelError::File {
            path: path.clone(),
            message: format!("cannot read: {e}"),
        })?;
        Self::from_bytes(path, bytes)
    }

    /// A file's content already in memory; `path` names it in errors. The header is checked
    /// against the bytes (every tensor inside them), so nothing larger than `bytes` is ever
    /// allocated, whatever sizes the header claims.
    pub fn from_bytes(path: impl Into<PathBuf>, bytes: Vec<u8>) -> Result<Self> {
        let file = Self {
            path: path.into(),
            bytes,
        };
        file.parse()?;
        Ok(file)
    }

    fn parse(&self) -> Result<SafeTensors<'_>> {
        SafeTensors::deserialize(&self.bytes).map_err(|e| ModelError::File {
            path: self.path.clone(),
            message: format!("not a valid safetensors file: {e}"),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every tensor name in the file.
    pub fn names(&self) -> Vec<String> {
        self.parse()
            .map(|st| st.names().into_iter().map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// The file's free-form metadata (`__metadata__`), if any.
    pub fn metadata(&self) -> HashMap<String, String> {
        SafeTensors::read_metadata(&self.bytes)
            .ok()
            .and_then(|(_, meta)| meta.metadata().clone())
            .unwrap_or_default()
    }

    fn weights_error(&self, name: &str, message: impl Into<String>) -> ModelError {
        ModelError::Weights {
            path: self.path.clone(),
            name: name.to_string(),
            message: message.into(),
        }
    }

    /// A float tensor's values (f32, or f64 converted) and shape.
    pub fn floats(&self, name: &str) -> Result<(Vec<f32>, Vec<usize>)> {
        let st = self.parse()?;
        let view = st
            .tensor(name)
            .map_err(|_| self.weights_error(name, "missing from the file"))?;
        let data = view.data();
        let values = match view.dtype() {
            Dtype::F32 => data
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Dtype::F64 => data
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)
                .collect(),
            other => {
                return Err(self.weights_error(
                    name,
                    format!("dtype {other:?} is not supported; save the weights as float32"),
                ));
            }
        };
        Ok((values, view.shape().to_vec()))
    }

    /// An integer tensor's values (i64 or i32).
    pub fn integers(&self, name: &str) -> Result<Vec<i64>> {
        let st = self.parse()?;
        let view = st
            .tensor(name)
            .map_err(|_| self.weights_error(name, "missing from the file"))?;
        let data = view.data();
        match view.dtype() {
            Dtype::I64 => Ok(data
                .chunks_exact(8)
                .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")))
                .collect()),
            Dtype::I32 => Ok(data
                .chunks_exact(4)
                .map(|b| i32::from_le_bytes(b.try_into().expect("4 bytes")) as i64)
                .collect()),
            other => Err(self.weights_error(name, format!("expected integers, found {other:?}"))),
        }
    }

    /// A float tensor whose shape must be exactly `shape`, as a Burn tensor on `device`.
    pub fn tensor<const D: usize>(
        &self,
        name: &str,
        shape: [usize; D],
        device: &Device,
    ) -> Result<Tensor<D>> {
        let values = self.checked(name, &shape)?;
        Ok(Tensor::from_data(TensorData::new(values, shape), device))
    }

    fn checked(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let (values, actual) = self.floats(name)?;
        if actual != shape {
            return Err(self.weights_error(
                name,
                format!("shape {actual:?} does not fit the module, which expects {shape:?}"),
            ));
        }
        Ok(values)
    }

    /// A PyTorch `[rows, cols]` matrix, returned transposed as `[cols, rows]`.
    fn transposed(
        &self,
        name: &str,
        rows: usize,
        cols: usize,
        device: &Device,
    ) -> Result<Param<Tensor<2>>> {
        let values = self.checked(name, &[rows, cols])?;
        let mut out = vec![0.0f32; values.len()];
        for r in 0..rows {
            for c in 0..cols {
                out[c * rows + r] = values[r * cols + c];
            }
        }
        Ok(Param::from_data(TensorData::new(out, [cols, rows]), device))
    }

    fn vector(&self, name: &str, len: usize, device: &Device) -> Result<Param<Tensor<1>>> {
        let values = self.checked(name, &[len])?;
        Ok(Param::from_data(TensorData::new(values, [len]), device))
    }
}

/// PyTorch's name suffix for a layer-direction: `_l{k}` or `_l{k}_reverse`.
fn suffix(layer: usize, direction: usize) -> String {
    if direction == 1 {
        format!("_l{layer}_reverse")
    } else {
        format!("_l{layer}")
    }
}

/// Whether `name` (after the prefix) looks like a recurrent weight PyTorch would write.
fn is_recurrent_name(name: &str) -> bool {
    [
        "weight_ih_l",
        "weight_hh_l",
        "weight_hr_l",
        "bias_ih_l",
        "bias_hh_l",
    ]
    .iter()
    .any(|p| name.starts_with(p))
}

/// A tensor's values as a host `Vec<f32>`.
fn host_values<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("float tensor converts to f32")
}

/// Host values of a `[rows, cols]` tensor, transposed to `[cols, rows]` (PyTorch's layout).
fn host_transposed(tensor: Tensor<2>) -> (Vec<f32>, [usize; 2]) {
    let [rows, cols] = tensor.dims();
    let values = host_values(tensor);
    let mut out = vec![0.0f32; values.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = values[r * cols + c];
        }
    }
    (out, [cols, rows])
}

/// Tensors on their way into a `.safetensors` file.
#[derive(Default)]
struct TensorWriter {
    tensors: Vec<(String, Vec<usize>, Vec<u8>)>,
}

impl TensorWriter {
    fn push(&mut self, name: String, shape: Vec<usize>, values: &[f32]) {
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.tensors.push((name, shape, bytes));
    }

    fn write(self, path: &Path) -> Result<()> {
        let file_error = |message: String| ModelError::File {
            path: path.to_path_buf(),
            message,
        };
        let views = self
            .tensors
            .iter()
            .map(|(name, shape, bytes)| {
                safetensors::tensor::TensorView::new(Dtype::F32, shape.clone(), bytes)
                    .map(|view| (name.clone(), view))
                    .map_err(|e| file_error(format!("cannot encode `{name}`: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let bytes = safetensors::serialize(views, None)
            .map_err(|e| file_error(format!("cannot encode: {e}")))?;
        burn_rnn_io::write_atomic(path, &bytes)
            .map_err(|e| file_error(format!("cannot write: {e}")))
    }
}

impl Recurrent {
    /// Loads a PyTorch `nn.RNN`/`nn.LSTM`/`nn.GRU` `state_dict` saved as `.safetensors`
    /// (`safetensors.torch.save_file(rnn.state_dict(), path)`). The file must match this
    /// module's configuration; a missing, extra or misshapen tensor is an error naming it.
    pub fn load_pytorch(self, path: impl AsRef<Path>) -> Result<Self> {
        self.load_pytorch_with_prefix(path, "")
    }

    /// As [`load_pytorch`](Self::load_pytorch), for tensors named `{prefix}weight_ih_l0`, ...
    /// (e.g. `prefix = "rnn."` inside a larger model's `state_dict`).
    pub fn load_pytorch_with_prefix(self, path: impl AsRef<Path>, prefix: &str) -> Result<Self> {
        let file = TensorFile::open(path)?;
        self.load_from_file(&file, prefix)
    }

    /// Loads from an already opened [`TensorFile`]; see [`load_pytorch`](Self::load_pytorch).
    pub fn load_from_file(mut self, file: &TensorFile, prefix: &str) -> Result<Self> {
        self.check_pytorch()?;
        let dirs = self.directions();
        let (hidden, state) = (self.d_hidden, self.d_state());
        let gh = self.cell.gates() * hidden;
        let device = self.layers[0].input_weight.val().device();
        let has_bias = self.layers[0].input_bias.is_some();
        let projected = self.proj_size > 0;
        let mut expected = Vec::new();
        for layer in 0..self.num_layers {
            let d_in = if layer == 0 {
                self.d_input
            } else {
                dirs * state
            };
            for direction in 0..dirs {
                let s = suffix(layer, direction);
                let name = |base: &str| format!("{prefix}{base}{s}");
                let weights = &mut self.layers[layer * dirs + direction];
                weights.input_weight = file.transposed(&name("weight_ih"), gh, d_in, &device)?;
                let w = file.transposed(&name("weight_hh"), gh, state, &device)?;
                weights.hidden_weight = Some(w);
                expected.extend([name("weight_ih"), name("weight_hh")]);
                if projected {
                    let r = file.transposed(&name("weight_hr"), state, hidden, &device)?;
                    weights.projection = Some(r);
                    expected.push(name("weight_hr"));
                }
                if has_bias {
                    weights.input_bias = Some(file.vector(&name("bias_ih"), gh, &device)?);
                    weights.hidden_bias = Some(file.vector(&name("bias_hh"), gh, &device)?);
                    expected.extend([name("bias_ih"), name("bias_hh")]);
                }
            }
        }
        let unexpected = file.names().into_iter().find(|n| {
            n.strip_prefix(prefix).is_some_and(is_recurrent_name) && !expected.contains(n)
        });
        if let Some(name) = unexpected {
            return Err(file.weights_error(
                &name,
                format!(
                    "not used by this module ({} layer(s), {} direction(s), bias {}, \
                     proj_size {}): the file was saved from a different configuration",
                    self.num_layers, dirs, has_bias, self.proj_size
                ),
            ));
        }
        Ok(self)
    }

    /// Saves the weights under PyTorch's names, loadable with
    /// `rnn.load_state_dict(safetensors.torch.load_file(path))`.
    pub fn save_pytorch(&self, path: impl AsRef<Path>) -> Result<()> {
        let mut writer = TensorWriter::default();
        self.push_tensors(&mut writer, "")?;
        writer.write(path.as_ref())
    }

    /// An error unless PyTorch's modules have this stack's computation.
    fn check_pytorch(&self) -> Result<()> {
        if !self.cell.has_hidden_weight() {
            return Err(ModelError::Unsupported(format!(
                "PyTorch has no {} module: there are no PyTorch weights to load or save (use \
                 save/load_weights, Burn's format)",
                self.cell.name()
            )));
        }
        if self.layers[0].norm.is_some() {
            return Err(ModelError::Unsupported(
                "PyTorch's nn.LSTM and nn.GRU have no layer norm: a layer-normalised stack has \
                 no PyTorch weights to load or save (use save/load_weights, Burn's format)"
                    .into(),
            ));
        }
        Ok(())
    }

    fn push_tensors(&self, writer: &mut TensorWriter, prefix: &str) -> Result<()> {
        self.check_pytorch()?;
        let dirs = self.directions();
        for (index, weights) in self.layers.iter().enumerate() {
            let s = suffix(index / dirs, index % dirs);
            let matrices = [
                ("weight_ih", Some(&weights.input_weight)),
                ("weight_hh", weights.hidden_weight.as_ref()),
                ("weight_hr", weights.projection.as_ref()),
            ];
            for (base, param) in matrices {
                if let Some(param) = param {
                    let (values, shape) = host_transposed(param.val());
                    writer.push(format!("{prefix}{base}{s}"), shape.to_vec(), &values);
                }
            }
            for (base, param) in [
                ("bias_ih", &weights.input_bias),
                ("bias_hh", &weights.hidden_bias),
            ] {
                if let Some(param) = param {
                    let values = host_values(param.val());
                    writer.push(format!("{prefix}{base}{s}"), vec![values.len()], &values);
                }
            }
        }
        Ok(())
    }
}

impl SequenceModel {
    /// Loads a PyTorch model whose `state_dict` holds the recurrent module under `rnn.` and the
    /// `nn.Linear` head under `head.` (e.g. `class M(nn.Module): rnn = nn.LSTM(..); head =
    /// nn.Linear(..)`), saved as `.safetensors`.
    pub fn load_pytorch(mut self, path: impl AsRef<Path>) -> Result<Self> {
        let file = TensorFile::open(path)?;
        self.recurrent = self.recurrent.load_from_file(&file, "rnn.")?;
        let [d_in, d_out] = self.head.weight.dims();
        let device = self.head.weight.val().device();
        self.head.weight = file.transposed("head.weight", d_out, d_in, &device)?;
        if self.head.bias.is_some() {
            self.head.bias = Some(file.vector("head.bias", d_out, &device)?);
        }
        Ok(self)
    }

    /// Saves under the names [`load_pytorch`](Self::load_pytorch) reads (`rnn.*`, `head.*`).
    pub fn save_pytorch(&self, path: impl AsRef<Path>) -> Result<()> {
        let mut writer = TensorWriter::default();
        self.recurrent.push_tensors(&mut writer, "rnn.")?;
        let (values, shape) = host_transposed(self.head.weight.val());
        writer.push("head.weight".into(), shape.to_vec(), &values);
        if let Some(bias) = &self.head.bias {
            let values = host_values(bias.val());
            writer.push("head.bias".into(), vec![values.len()], &values);
        }
        writer.write(path.as_ref())
    }
}
