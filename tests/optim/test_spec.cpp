// Spec strings (torch's names, defaults and checks; clear usage errors) and LR schedules.
#include <gtest/gtest.h>

#include <cmath>

#include "core/printable.h"
#include "optim/spec.h"

namespace ember {
namespace {

using optim::parse_lr_schedule;
using optim::parse_optimizer_spec;

// The message of the UsageError that f throws ("" if none).
template <class F>
std::string usage_error(F&& f) {
  try {
    f();
  } catch (const UsageError& e) {
    return e.message();
  }
  return "";
}

TEST(OptimizerSpec, ErrorsQuoteTheSpecAsOneLineOfValidUtf8) {
  // A byte that is not UTF-8 and a newline, in the name, a key and a value.
  for (const std::string spec : {"ad\xff" "am", "adam:l\nr=1", "adam:lr=1\xe2\x82"}) {
    const std::string message = usage_error([&] { parse_optimizer_spec(spec); });
    EXPECT_FALSE(message.empty()) << printable(spec);
    EXPECT_TRUE(is_valid_utf8(message)) << printable(message);
    EXPECT_EQ(message.find('\n'), std::string::npos) << printable(message);
  }
  EXPECT_NE(usage_error([] { parse_optimizer_spec("ad\xff" "am"); }).find("unknown optimizer 'ad\\xffam'"),
            std::string::npos);
}

TEST(OptimizerSpec, DefaultsAreTorchs) {
  const auto sgd = parse_optimizer_spec("sgd").hyper;
  EXPECT_EQ(sgd.lr, 1e-3);
  EXPECT_EQ(sgd.momentum, 0);
  EXPECT_EQ(sgd.dampening, 0);
  EXPECT_FALSE(sgd.nesterov);
  const auto nag = parse_optimizer_spec("nag");
  EXPECT_EQ(nag.algorithm, optim::Algorithm::Sgd);
  EXPECT_EQ(nag.hyper.momentum, 0.9);
  EXPECT_TRUE(nag.hyper.nesterov);
  const auto rms = parse_optimizer_spec("rmsprop").hyper;
  EXPECT_EQ(rms.lr, 1e-2);
  EXPECT_EQ(rms.alpha, 0.99);
  EXPECT_EQ(rms.eps, 1e-8);
  EXPECT_FALSE(rms.centered);
  const auto adagrad = parse_optimizer_spec("adagrad").hyper;
  EXPECT_EQ(adagrad.lr, 1e-2);
  EXPECT_EQ(adagrad.eps, 1e-10);
  EXPECT_EQ(adagrad.initial_accumulator_value, 0);
  const auto adadelta = parse_optimizer_spec("adadelta").hyper;
  EXPECT_EQ(adadelta.lr, 1.0);
  EXPECT_EQ(adadelta.rho, 0.9);
  EXPECT_EQ(adadelta.eps, 1e-6);
  const auto adam = parse_optimizer_spec("adam").hyper;
  EXPECT_EQ(adam.lr, 1e-3);
  EXPECT_EQ(adam.beta1, 0.9);
  EXPECT_EQ(adam.beta2, 0.999);
  EXPECT_EQ(adam.eps, 1e-8);
  EXPECT_EQ(adam.weight_decay, 0);
  const auto adamw = parse_optimizer_spec("adamw");
  EXPECT_EQ(adamw.algorithm, optim::Algorithm::AdamW);
  EXPECT_EQ(adamw.hyper.weight_decay, 1e-2);
}

TEST(OptimizerSpec, ParsesKeysAndPrintsACanonicalSpecThatParsesBack) {
  const auto s = parse_optimizer_spec(" sgd : lr=0.01, momentum=0.9 ,nesterov=true,maximize=1");
  EXPECT_EQ(s.name, "sgd");
  EXPECT_EQ(s.hyper.lr, 0.01);
  EXPECT_EQ(s.hyper.momentum, 0.9);
  EXPECT_TRUE(s.hyper.nesterov);
  EXPECT_TRUE(s.hyper.maximize);
  const auto a = parse_optimizer_spec("adam:lr=1e-3,beta1=0.8,beta2=0.99,amsgrad=true,capturable=true");
  EXPECT_EQ(a.hyper.beta1, 0.8);
  EXPECT_EQ(a.hyper.beta2, 0.99);
  EXPECT_TRUE(a.hyper.amsgrad);
  EXPECT_TRUE(a.capturable);
  EXPECT_EQ(optim::format_optimizer_spec(a),
            "adam:lr=0.001,beta1=0.8,beta2=0.99,eps=1e-08,weight_decay=0,amsgrad=true,maximize=false,capturable=true");
  for (const std::string& name : optim::optimizer_names()) {
    const auto spec = parse_optimizer_spec(name + ":lr=0.123456789012345");
    const auto back = parse_optimizer_spec(optim::format_optimizer_spec(spec));
    EXPECT_EQ(optim::format_optimizer_spec(back), optim::format_optimizer_spec(spec)) << name;
    EXPECT_EQ(back.hyper.lr, 0.123456789012345) << name;
    const auto json = optim::hyperparameters_to_json(name, spec.hyper);
    const auto from = optim::hyperparameters_from_json(name, optim::default_hyperparameters(name), json);
    EXPECT_EQ(optim::format_optimizer_spec(name, from), optim::format_optimizer_spec(name, spec.hyper)) << name;
  }
  EXPECT_EQ(optim::optimizer_keys("adadelta"),
            (std::vector<std::string>{"lr", "rho", "eps", "weight_decay", "maximize", "capturable"}));
}

TEST(OptimizerSpec, BadSpecsAreUsageErrorsThatSayWhatIsValid) {
  EXPECT_NE(usage_error([] { parse_optimizer_spec("adamx"); }).find("valid names: sgd, nag, rmsprop, adagrad"),
            std::string::npos);
  EXPECT_NE(usage_error([] {
              parse_optimizer_spec("adam:beta3=0.5");
            }).find("valid keys: lr, beta1, beta2, eps, weight_decay, amsgrad, maximize, capturable"),
            std::string::npos);
  EXPECT_NE(usage_error([] { parse_optimizer_spec("sgd:lr=abc"); }).find("not a finite number"), std::string::npos);
  EXPECT_NE(usage_error([] { parse_optimizer_spec("sgd:nesterov=maybe"); }).find("not a boolean"), std::string::npos);
  EXPECT_NE(usage_error([] { parse_optimizer_spec("sgd:lr"); }).find("expected key=value"), std::string::npos);
  EXPECT_NE(usage_error([] { parse_optimizer_spec("sgd:lr=1,lr=2"); }).find("given twice"), std::string::npos);
  EXPECT_NE(usage_error([] { parse_optimizer_spec(""); }).find("empty"), std::string::npos);
  // torch's constructor checks.
  EXPECT_NE(usage_error([] { parse_optimizer_spec("sgd:lr=-0.1"); }).find("invalid lr"), std::string::npos);
  EXPECT_NE(usage_error([] { parse_optimizer_spec("sgd:nesterov=true"); }).find("nesterov"), std::string::npos);
  EXPECT_NE(usage_error([] { parse_optimizer_spec("nag:dampening=0.1"); }).find("nesterov"), std::string::npos);
  EXPECT_NE(usage_error([] { parse_optimizer_spec("adam:beta1=1"); }).find("invalid beta1"), std::string::npos);
  EXPECT_NE(usage_error([] { parse_optimizer_spec("adam:beta2=-0.1"); }).find("invalid beta2"), std::string::npos);
  EXPECT_NE(usage_error([] { parse_optimizer_spec("adadelta:rho=1.5"); }).find("invalid rho"), std::string::npos);
  EXPECT_NE(usage_error([] { parse_optimizer_spec("adagrad:lr_decay=-1"); }).find("invalid lr_decay"),
            std::string::npos);
  EXPECT_NE(usage_error([] { parse_optimizer_spec("rmsprop:alpha=-1"); }).find("invalid alpha"), std::string::npos);
  EXPECT_NE(usage_error([] { parse_optimizer_spec("adam:weight_decay=-1"); }).find("invalid weight_decay"),
            std::string::npos);
  EXPECT_NE(usage_error([] { parse_optimizer_spec("adam:eps=inf"); }).find("not a finite number"), std::string::npos);
  EXPECT_TRUE(usage_error([] { parse_optimizer_spec("adadelta:rho=1"); }).empty());  // torch allows rho = 1
}

TEST(LrSchedule, ParsesAndPrints) {
  EXPECT_EQ(optim::format_lr_schedule(parse_lr_schedule("constant")), "constant:warmup=0");
  EXPECT_EQ(optim::format_lr_schedule(parse_lr_schedule("step:step_size=30,gamma=0.5")),
            "step:step_size=30,gamma=0.5,warmup=0");
  EXPECT_EQ(optim::format_lr_schedule(parse_lr_schedule("cosine:warmup=5,eta_min=1e-05")),
            "cosine:eta_min=1e-05,warmup=5");
  EXPECT_EQ(optim::format_lr_schedule(parse_lr_schedule("onecycle")),
            "onecycle:pct_start=0.3,div_factor=25,final_div_factor=10000");
  EXPECT_NE(usage_error([] { parse_lr_schedule("linear"); }).find("valid schedules: constant, step, cosine, onecycle"),
            std::string::npos);
  EXPECT_NE(usage_error([] { parse_lr_schedule("cosine:gamma=0.1"); }).find("valid keys: eta_min, warmup"),
            std::string::npos);
  EXPECT_FALSE(usage_error([] { parse_lr_schedule("step:step_size=0"); }).empty());
  EXPECT_FALSE(usage_error([] { parse_lr_schedule("step:step_size=2.5"); }).empty());
  EXPECT_FALSE(usage_error([] { parse_lr_schedule("onecycle:pct_start=1"); }).empty());
}

TEST(LrSchedule, FollowsTorchsFormulas) {
  EXPECT_EQ(parse_lr_schedule("constant").lr(0.1, 7, 10), 0.1);
  const auto step = parse_lr_schedule("step:step_size=3,gamma=0.5");
  EXPECT_EQ(step.lr(1.0, 0, 10), 1.0);
  EXPECT_EQ(step.lr(1.0, 2, 10), 1.0);
  EXPECT_EQ(step.lr(1.0, 3, 10), 0.5);
  EXPECT_EQ(step.lr(1.0, 9, 10), 0.125);
  const auto cosine = parse_lr_schedule("cosine:eta_min=0.01");
  EXPECT_DOUBLE_EQ(cosine.lr(1.0, 0, 100), 1.0);
  EXPECT_DOUBLE_EQ(cosine.lr(1.0, 50, 100), 0.01 + 0.99 * 0.5);
  EXPECT_DOUBLE_EQ(cosine.lr(1.0, 100, 100), 0.01);
  const auto warm = parse_lr_schedule("cosine:warmup=4");
  EXPECT_DOUBLE_EQ(warm.lr(1.0, 0, 104), 0.25);
  EXPECT_DOUBLE_EQ(warm.lr(1.0, 3, 104), 1.0);
  EXPECT_DOUBLE_EQ(warm.lr(1.0, 4, 104), 1.0);  // the cosine starts after the warmup
  EXPECT_DOUBLE_EQ(warm.lr(1.0, 54, 104), 0.5);
  // torch.optim.lr_scheduler.OneCycleLR(max_lr=1, total_steps=10) (pct_start 0.3,
  // div_factor 25, final_div_factor 1e4, cos): phase 1 ends at step 2.
  const auto one = parse_lr_schedule("onecycle");
  // (torch's cos formula, as ember's, gives 0.04 + 4e-17 at step 0: compare to 1e-15.)
  EXPECT_NEAR(one.lr(1.0, 0, 10), 1.0 / 25, 1e-15);
  EXPECT_NEAR(one.lr(1.0, 1, 10), 0.04 + (1 - 0.04) / 2, 1e-15);
  EXPECT_NEAR(one.lr(1.0, 2, 10), 1.0, 1e-15);
  EXPECT_NEAR(one.lr(1.0, 9, 10), 0.04 / 1e4, 1e-15);
  const double pi = std::acos(-1.0);  // step 5 is 3/7 of the way through phase 2 (steps 2..9)
  EXPECT_NEAR(one.lr(1.0, 5, 10), 0.04e-4 + (1 - 0.04e-4) / 2 * (std::cos(pi * 3.0 / 7) + 1), 1e-15);
}

}  // namespace
}  // namespace ember
