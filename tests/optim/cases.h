// Shared by the optimiser suites: every option combination of every optimiser as a spec
// string, and reproducible gradient sequences that include zero gradients.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace ember::testing {

// Every combination of each optimiser's options (weight decay on/off, maximize, momentum,
// dampening, nesterov, centered, amsgrad, lr_decay, initial accumulator, decoupled weight
// decay, NAdam's momentum decay, ASGD's lambd, alpha and t0, Rprop's etas and step-size
// bounds, a smoothing constant on each side of 0.5 for the rules that use torch's lerp, and
// two settings of eps and beta2 - the second large enough to matter next to the moments) for
// the element-wise optimisers.
inline std::vector<std::string> all_option_specs() {
  std::vector<std::string> specs;
  const char* bools[] = {"false", "true"};
  const std::string eps_beta2[] = {"eps=1e-08,beta2=0.999", "eps=0.001,beta2=0.9"};
  for (const char* max : bools) {
    for (const char* wd : {"0", "0.05"}) {
      const std::string tail = std::string(",weight_decay=") + wd + ",maximize=" + max;
      // SGD: momentum x dampening x nesterov (nesterov only where torch allows it).
      for (const char* momentum : {"0", "0.9"})
        for (const char* dampening : {"0", "0.3"})
          for (const char* nesterov : bools) {
            if (std::string(nesterov) == "true" && (std::string(momentum) == "0" || std::string(dampening) != "0"))
              continue;
            specs.push_back(std::string("sgd:lr=0.05,momentum=") + momentum + ",dampening=" + dampening +
                            ",nesterov=" + nesterov + tail);
          }
      for (const char* alpha : {"0.99", "0.3"})
        for (const char* momentum : {"0", "0.5"})
          for (const char* centered : bools)
            for (const char* eps : {"1e-08", "0.01"})
              specs.push_back(std::string("rmsprop:lr=0.01,alpha=") + alpha + ",momentum=" + momentum +
                              ",centered=" + centered + ",eps=" + eps + tail);
      for (const char* lr_decay : {"0", "0.1"})
        for (const char* init : {"0", "0.5"})
          for (const char* eps : {"1e-10", "0.001"})
            specs.push_back(std::string("adagrad:lr=0.05,lr_decay=") + lr_decay + ",initial_accumulator_value=" +
                            init + ",eps=" + eps + tail);
      for (const char* rho : {"0.9", "0.4"})
        for (const char* eps : {"1e-06", "0.01"})
          specs.push_back(std::string("adadelta:lr=1,rho=") + rho + ",eps=" + eps + tail);
      for (const std::string& eb : eps_beta2) {
        for (const char* name : {"adam", "adamw"})
          for (const char* beta1 : {"0.9", "0.3"})
            for (const char* amsgrad : bools)
              specs.push_back(std::string(name) + ":lr=0.01,beta1=" + beta1 + "," + eb + ",amsgrad=" + amsgrad + tail);
        for (const char* beta1 : {"0.9", "0.3"})
          for (const char* decoupled : bools) {
            specs.push_back(std::string("nadam:lr=0.01,beta1=") + beta1 + "," + eb +
                            ",momentum_decay=" + (beta1[2] == '9' ? "0.004" : "0.5") +
                            ",decoupled_weight_decay=" + decoupled + tail);
            specs.push_back(std::string("radam:lr=0.01,beta1=") + beta1 + "," + eb + ",decoupled_weight_decay=" +
                            decoupled + tail);
          }
        for (const char* beta1 : {"0.9", "0.3"})
          specs.push_back(std::string("adamax:lr=0.01,beta1=") + beta1 + "," + eb + tail);
      }
      // ASGD: t0 = 10 starts averaging (mu < 1) within the run.
      for (const char* lambd : {"0.0001", "0.1"})
        for (const char* alpha : {"0.75", "1.5"})
          for (const char* t0 : {"1000000", "10"})
            specs.push_back(std::string("asgd:lr=0.05,lambd=") + lambd + ",alpha=" + alpha + ",t0=" + t0 + tail);
    }
    // Rprop has no weight decay; the second bounds clamp the step sizes within the run.
    for (const char* etas : {"eta_minus=0.5,eta_plus=1.2", "eta_minus=0.3,eta_plus=2"})
      for (const char* sizes : {"step_size_min=1e-06,step_size_max=50", "step_size_min=0.001,step_size_max=0.05"})
        specs.push_back(std::string("rprop:lr=0.01,") + etas + "," + sizes + ",maximize=" + max);
    // Lion: decoupled decay on and off; the paper's betas and a far-off pair (a beta used in
    // the other's place shows).
    for (const char* wd : {"0", "0.1"})
      for (const char* betas : {"beta1=0.9,beta2=0.99", "beta1=0.3,beta2=0.8"})
        specs.push_back(std::string("lion:lr=0.01,") + betas + ",weight_decay=" + wd + ",maximize=" + max);
  }
  // Schedule-Free (no maximize): weight decay on and off, warmup within the run or none, the
  // package's weighting and a polynomial one without lr weighting; beta1 (momentum) on each
  // side of 0.5, so that both of torch's lerp formulas move x and y.
  for (const char* wd : {"0", "0.05"})
    for (const char* weights : {"warmup_steps=0,r=0,weight_lr_power=2", "warmup_steps=10,r=1.5,weight_lr_power=0"}) {
      const std::string tail = std::string(",weight_decay=") + wd + "," + weights;
      for (const char* beta1 : {"0.9", "0.3"}) {
        for (const std::string& eb : eps_beta2)
          specs.push_back(std::string("sfadamw:lr=0.01,beta1=") + beta1 + "," + eb + tail);
        specs.push_back(std::string("sfsgd:lr=0.05,momentum=") + beta1 + tail);
      }
    }
  return specs;
}

// steps x n gradients (float-representable): element 0 is always zero, every step with
// step % 7 == 3 is all zeros, the rest mixes magnitudes from 1e-4 to 1e2.
inline std::vector<std::vector<float>> gradient_sequence(int steps, int n, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  std::uniform_int_distribution<int> scale(-4, 2);
  std::vector<std::vector<float>> grads(static_cast<size_t>(steps), std::vector<float>(static_cast<size_t>(n), 0.0f));
  for (int t = 0; t < steps; ++t) {
    if (t % 7 == 3) continue;
    for (int i = 1; i < n; ++i) grads[t][i] = unit(gen) * std::pow(10.0f, float(scale(gen)));
  }
  return grads;
}

inline std::vector<float> initial_values(int n, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<float> unit(-2.0f, 2.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = unit(gen);
  return v;
}

}  // namespace ember::testing
