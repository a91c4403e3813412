//! A trainer's weights and optimiser state as checkpoint bytes, read back from the device
//! asynchronously. burn 0.22 writes both records (`Module::into_record`,
//! `ModuleOptimizer::into_bytes`) with synchronous reads, which a browser refuses on WebGPU: its
//! read-back is a promise the worker must await, so a WebGPU run that kept a checkpoint panicked at
//! the end of its first epoch. Here every tensor is read in one awaited transaction first and put
//! on the CPU, whose reads answer at once; the records are then written there, byte for byte what
//! burn writes.
//!
//! burn walks the optimiser's states itself (a private map, through each state's
//! `RecordState::state_flatten`), so the states' tensors are reached from inside our states'
//! `state_flatten` ([`flatten`]): a first walk gathers them, the transaction reads them, and a
//! second walk of the same map in the same order records what was read.

use std::cell::RefCell;
use std::collections::VecDeque;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use burn::tensor::{DataError, ExecutionError, Transaction};
use cnn_models::Model;

use crate::TrainError;

/// What [`flatten`] does with the tensors it is given.
enum Walk {
    /// Reads them where they are: on the CPU, or outside [`optimizer_bytes`].
    Direct,
    /// Registers them to be read, and records nothing.
    Gather(Transaction),
    /// Records what the transaction read, in the order it was registered.
    Replay(VecDeque<TensorData>),
}

thread_local! {
    static WALK: RefCell<Walk> = const { RefCell::new(Walk::Direct) };
}

/// Hands an optimiser state's `tensors` to `record`, which writes them as burn names them: the
/// tensors themselves, or their values on the CPU once [`optimizer_bytes`] has read them.
pub(crate) fn flatten<const D: usize, const N: usize>(tensors: [&Tensor<D>; N], record: impl FnOnce([Tensor<D>; N])) {
    let replayed = WALK.with_borrow_mut(|walk| match walk {
        Walk::Direct => Some(tensors.map(Tensor::clone)),
        Walk::Gather(transaction) => {
            let mut gathered = std::mem::take(transaction);
            for tensor in tensors {
                gathered = gathered.register(tensor.clone());
            }
            *transaction = gathered;
            None
        }
        Walk::Replay(read) => {
            let cpu = Device::flex();
            // A walk in another order than the gathering one is a bug, not the user's doing.
            Some(tensors.map(|_| Tensor::from_data(read.pop_front().expect("a replay as long as its gathering"), &cpu)))
        }
    });
    if let Some(tensors) = replayed {
        record(tensors);
    }
}

/// Sets the walk [`flatten`] does while `f` runs, and sets it back to `Direct`.
fn walking<T>(walk: Walk, f: impl FnOnce() -> T) -> (T, Walk) {
    WALK.with_borrow_mut(|w| *w = walk);
    let out = f();
    (out, WALK.with_borrow_mut(|w| std::mem::replace(w, Walk::Direct)))
}

/// The optimiser's state as burnpack bytes (`ModuleOptimizer::into_bytes`).
pub(crate) async fn optimizer_bytes(optim: &ModuleOptimizer) -> Result<Vec<u8>, TrainError> {
    // No await between setting a walk and setting it back: nothing else runs on this thread's
    // walk meanwhile, even in a browser's single-threaded worker.
    let (_, gathered) = walking(Walk::Gather(Transaction::default()), || optim.to_record());
    let Walk::Gather(transaction) = gathered else { unreachable!("the walk set above") };
    let read = checked(transaction.execute_async().await)?;
    let (bytes, _) = walking(Walk::Replay(read), || optim.into_bytes());
    Ok(bytes.map_err(|e| TrainError::Device(e.to_string()))?.to_vec())
}

/// The model's weights (batch norm's running statistics included) as burnpack bytes
/// (`ModuleRecord::into_bytes`).
pub(crate) async fn weight_bytes(model: &Model) -> Result<Vec<u8>, TrainError> {
    let mut gather = Gather(Transaction::default());
    model.visit(&mut gather);
    let read = checked(gather.0.execute_async().await)?;
    let on_cpu = model.clone().map(&mut Place { read, cpu: Device::flex() });
    let bytes = on_cpu.into_record().into_bytes().map_err(|e| TrainError::Device(e.to_string()))?;
    Ok(bytes.to_vec())
}

/// Every tensor of a module, in the order `Module::map` meets them.
struct Gather(Transaction);

impl ModuleVisitor for Gather {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0 = std::mem::take(&mut self.0).register(param.val());
    }
}

/// A module's tensors replaced by the values read, on the CPU.
struct Place {
    read: VecDeque<TensorData>,
    cpu: Device,
}

impl ModuleMapper for Place {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let value = match self.read.pop_front() {
            Some(data) => Tensor::from_data(data, &self.cpu),
            None => tensor,
        };
        Param::from_mapped_value(id, value, mapper)
    }
}

/// The values a transaction read, each one touched: burn hands a read over at once and fails
/// only when its bytes are first used, which must not be inside a record's writing (it panics).
fn checked(read: Result<Vec<TensorData>, ExecutionError>) -> Result<VecDeque<TensorData>, TrainError> {
    let read = read.map_err(execution)?;
    read.into_iter()
        .map(|data| {
            let shape = data.shape().clone();
            Ok(TensorData::new(data.try_into_vec::<f32>().map_err(data_error)?, shape))
        })
        .collect()
}

/// How burn words a lost device (`ExecutionError::DevicePoisoned`), before wgpu's reason.
const POISONED: &str = "The device is poisoned";

/// A failed read as the user hears it: a lost GPU gets its own sentence.
pub(crate) fn execution(error: ExecutionError) -> TrainError {
    match error {
        ExecutionError::DevicePoisoned { reason } => TrainError::GpuLost(cause(&reason)),
        other => TrainError::Device(other.to_string()),
    }
}

/// A read's bytes that could not be had. burn carries the device's error into them as text only
/// (`AccessError::Read`), so a lost GPU is known by burn's words for it.
pub(crate) fn data_error(error: DataError) -> TrainError {
    failed_read(error.to_string())
}

fn failed_read(text: String) -> TrainError {
    match text.find(POISONED) {
        Some(at) => TrainError::GpuLost(cause(&text[at..])),
        None => TrainError::Device(text),
    }
}

/// wgpu's reason on one line (`Destroyed`, or the browser's message), without burn's wrapping
/// ("The device is poisoned", "Caused by:"), which may come once or twice around it.
fn cause(reason: &str) -> String {
    let wrapping = [POISONED, "Caused by:", "Backtrace:", "No backtrace available"];
    let line = reason
        .lines()
        .map(|line| line.trim().trim_end_matches(':').trim())
        .find(|line| !line.is_empty() && !wrapping.iter().any(|w| w.trim_end_matches(':') == *line));
    line.map_or_else(|| "the device went away".into(), str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_devices_reason_is_one_line_without_burns_wrapping() {
        let native = "The device is poisoned\nCaused by:\n  Destroyed: \nBacktrace:\nNo backtrace available";
        assert_eq!(cause(native), "Destroyed");
        assert_eq!(
            cause("The device is poisoned\nCaused by:\n  The device is poisoned\nCaused by:\n  Destroyed: "),
            "Destroyed"
        );
        assert_eq!(cause("The device is poisoned"), "the device went away");
        assert_eq!(cause("Unknown: GPU process crashed\n"), "Unknown: GPU process crashed");
        let read = "Failed to access TensorData storage: The device is poisoned\nCaused by:\n  Destroyed: ";
        assert!(matches!(failed_read(read.into()), TrainError::GpuLost(why) if why == "Destroyed"));
        assert!(matches!(failed_read("out of memory".into()), TrainError::Device(why) if why == "out of memory"));
    }
}
