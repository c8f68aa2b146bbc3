// Module: a layer or a network of layers, after torch.nn.Module (reduced).
//
// A module owns named parameters (leaf tensors that require grad), named buffers (state
// that is saved but not trained, like batch norm's running statistics) and named child
// modules, each kept in registration order. Names compose with dots as in torch
// ("layer1.0.conv1.weight"), and every traversal is pre-order over the children in
// registration order, which for ResNet18 is torchvision's order exactly.
//
// Note [stable parameter tensors]
// The Tensor handles a module registers are never replaced: to(), load_state_dict() and the
// initialisers change their values, device or dtype in place (same TensorImpl), and layers
// read their parameters at every call instead of caching pointers. So anyone holding the
// handles (an optimiser, or FlatParameters re-homing them into one buffer with
// Tensor::set_storage) keeps seeing the module's real parameters. One caveat: to() gives
// each tensor a storage of its own on the new device, so move the model before building
// flat buffers over it (load_state_dict and the initialisers write through, flat or not).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace ember::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module;

// Sees every module call (Module::operator()) on this thread while installed: used by the
// summary to record output shapes in call order. Not for training code.
class ForwardObserver {
 public:
  virtual ~ForwardObserver() = default;
  virtual void before(const Module& module, const Tensor& input) = 0;
  virtual void after(const Module& module, const Tensor& input, const Tensor& output) = 0;
};

// Installs `observer` for the scope (per thread), restoring the previous one after.
class ForwardObserverScope {
 public:
  explicit ForwardObserverScope(ForwardObserver* observer);
  ~ForwardObserverScope();
  ForwardObserverScope(const ForwardObserverScope&) = delete;
  ForwardObserverScope& operator=(const ForwardObserverScope&) = delete;

 private:
  ForwardObserver* previous_;
};

class Module {
 public:
  explicit Module(std::string type_name) : type_name_(std::move(type_name)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // What the module computes. Call modules through operator() so observers see the call.
  virtual Tensor forward(const Tensor& input) = 0;
  Tensor operator()(const Tensor& input);

  // "Conv2d", "BatchNorm2d", ... and torch's extra_repr ("3, 64, kernel_size=(7, 7), ...").
  const std::string& type_name() const { return type_name_; }
  virtual std::string describe() const { return ""; }
  // Floating-point operations of this module's own computation (children excluded) for one
  // forward pass producing `output` from `input` (a multiply-add counts 2).
  virtual int64_t forward_flops(const Shape& input, const Shape& output) const { return 0; }

  // --- traversal (pre-order, registration order; names joined with dots)
  NamedTensors named_parameters() const;
  NamedTensors named_buffers() const;
  // Parameters and buffers in torch's state_dict order: for each module (pre-order) its
  // parameters, then its buffers.
  NamedTensors state_dict() const;
  std::vector<Tensor> parameters() const;
  // Every module with its qualified name ("" for this one), pre-order.
  std::vector<std::pair<std::string, const Module*>> named_modules() const;
  std::vector<std::pair<std::string, Module*>> named_modules();
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const { return children_; }
  bool has_children() const { return !children_.empty(); }

  // Elements of all parameters; with trainable_only, of those that require grad.
  int64_t num_parameters(bool trainable_only = false) const;

  // --- state (recursive)
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  // Moves every parameter and buffer (and existing gradients) to `device` / converts floating
  // ones to `dtype`, in place (Note [stable parameter tensors]).
  void to(Device device);
  void to(DType dtype);
  void zero_grad();  // drops every parameter's gradient

 protected:
  // Registers a parameter (made a leaf that requires grad) and returns its handle.
  Tensor register_parameter(const std::string& name, Tensor value);
  Tensor register_buffer(const std::string& name, Tensor value);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  void check_new_name(const std::string& name) const;
  template <class F>
  void visit(const std::string& prefix, F&& f) const;  // f(qualified_prefix, module)
  void convert(Device device, DType dtype, bool change_dtype);

  std::string type_name_;
  bool training_ = true;
  NamedTensors parameters_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

// Runs its children one after another; they are named "0", "1", ... as in torch.
class Sequential : public Module {
 public:
  Sequential() : Module("Sequential") {}
  template <class M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> module) {
    return register_module(std::to_string(named_children().size()), std::move(module));
  }
  size_t size() const { return named_children().size(); }
  Tensor forward(const Tensor& input) override;
};

// Copies values from `state` (name -> tensor, e.g. a checkpoint) into the module's
// parameters and buffers in place. Every name of the module's state_dict must be present
// with the same dtype and shape and no other name may be: the first violation (in the
// module's order; then the first unexpected name) throws an Error naming it and `source`.
void load_state_dict(Module& module, const NamedTensors& state, const std::string& source = "state dict");

}  // namespace ember::nn
