// ember-paths and ember-bench-optim as a user runs them: Rosenbrock with Adam ends near the
// minimum, every element-wise optimiser and Adafactor descend a quadratic, the CSV has the
// promised shape, bad specs and flags exit 2 with a message, --plot writes a PNG; the
// benchmark's --json is the one object issue 9's tools read, with Adafactor's and Muon's
// memory and launch counts on ResNet-18.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Result {
  int exit_code = -1;
  std::string out;  // stdout and stderr together
};

Result run_program(const std::string& program, const std::string& args, bool with_stderr = true) {
  const std::string command =
      std::string(EMBER_BINARY_DIR) + "/bin/" + program + " " + args + (with_stderr ? " 2>&1" : " 2>/dev/null");
  Result r;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return r;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, pipe)) r.out += buf;
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

Result run_paths(const std::string& args) { return run_program("ember-paths", args); }

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(EmberPaths, AdamReachesTheRosenbrockMinimum) {
  const Result r = run_paths("--function rosenbrock --optimizer adam:lr=0.05 --steps 3000 --csv");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const std::vector<std::string> rows = lines(r.out);
  ASSERT_EQ(rows.size(), 3002u);  // header + steps 0..3000
  double x = 0, y = 0, loss = 0;
  ASSERT_EQ(std::sscanf(rows.back().c_str(), "adam:lr=0.05,3000,%lf,%lf,%lf", &x, &y, &loss), 3) << rows.back();
  EXPECT_LT(std::hypot(x - 1, y - 1), 1e-3);
  EXPECT_LT(loss, 1e-6);
}

TEST(EmberPaths, EveryElementwiseOptimizerAndAdafactorRun) {
  for (const char* spec : {"nadam:lr=0.05", "radam:lr=0.05", "adamax:lr=0.05", "asgd:lr=0.001", "rprop:lr=0.01",
                           "adafactor:lr=0.05", "lion:lr=0.01", "sfadamw:lr=0.1", "sfsgd:lr=0.05"}) {
    const Result r = run_paths(std::string("--optimizer ") + spec + " --steps 200 --function quadratic --csv");
    ASSERT_EQ(r.exit_code, 0) << spec << ": " << r.out;
    const std::vector<std::string> rows = lines(r.out);
    ASSERT_EQ(rows.size(), 202u) << spec;
    double x = 0, y = 0, loss0 = 0, loss = 0;
    ASSERT_EQ(std::sscanf(rows[1].substr(rows[1].find(",0,") + 3).c_str(), "%lf,%lf,%lf", &x, &y, &loss0), 3);
    ASSERT_EQ(std::sscanf(rows.back().substr(rows.back().find(",200,") + 5).c_str(), "%lf,%lf,%lf", &x, &y, &loss), 3);
    EXPECT_LT(loss, 0.5 * loss0) << spec << " did not descend: " << rows.back();
  }
}

TEST(EmberPaths, CsvHasOneRowPerStepWithTheSpecAsGiven) {
  const Result r =
      run_paths("--optimizer sgd:lr=0.001,momentum=0.9 --optimizer adagrad --steps 4 --start -1.25,1.5 --csv");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const std::vector<std::string> rows = lines(r.out);
  ASSERT_EQ(rows.size(), 11u);
  EXPECT_EQ(rows[0], "optimizer,step,x,y,loss");
  EXPECT_EQ(rows[1].rfind("\"sgd:lr=0.001,momentum=0.9\",0,-1.25,1.5,", 0), 0u) << rows[1];  // quoted: it has commas
  EXPECT_EQ(rows[6].rfind("adagrad,0,-1.25,1.5,", 0), 0u) << rows[6];
  EXPECT_EQ(rows[10].rfind("adagrad,4,", 0), 0u) << rows[10];
  // At least 9 significant digits: the x of step 1 is a float that needs them.
  const std::string x1 = rows[2].substr(rows[2].find(",1,") + 3);
  int digits = 0;
  for (char c : x1.substr(0, x1.find(','))) digits += std::isdigit(static_cast<unsigned char>(c)) != 0;
  EXPECT_GE(digits, 9) << rows[2];
}

TEST(EmberPaths, BadInputIsAUsageErrorWithExitCode2) {
  Result r = run_paths("--optimizer adam:beta3=0.5");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("unknown key 'beta3' for adam; valid keys: lr, beta1, beta2"), std::string::npos) << r.out;
  r = run_paths("--optimizer adamx");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("valid names: sgd, nag, rmsprop, adagrad, adadelta, adam, adamw, nadam, radam, adamax, asgd, "
                       "rprop, adafactor, muon, lion"),
            std::string::npos)
      << r.out;
  r = run_paths("--optimizer muon");  // the point is a vector: no weight matrix for Muon
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("muon needs hidden weights"), std::string::npos) << r.out;
  EXPECT_EQ(lines(r.out).size(), 1u) << r.out;
  r = run_paths("--optimizer adam+");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("an empty part; expected NAME[:key=value,...] or A+B"), std::string::npos) << r.out;
  r = run_paths("--optimizer rprop:eta_minus=1.5");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("0 < eta_minus < 1 < eta_plus"), std::string::npos) << r.out;
  r = run_paths("--optimizer sgd:nesterov=true");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("nesterov"), std::string::npos) << r.out;
  r = run_paths("--function himmelblau");
  EXPECT_EQ(r.exit_code, 2);
  r = run_paths("--start 1");
  EXPECT_EQ(r.exit_code, 2);
  r = run_paths("--steps -1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(lines(r.out).size(), 1u) << r.out;  // one line on stderr
}

TEST(EmberPaths, TableByDefaultAndAPlotOnRequest) {
  const std::string png = std::string(EMBER_BINARY_DIR) + "/ember-paths-test.png";
  std::remove(png.c_str());
  const Result r = run_paths("--steps 50 --plot " + png);
  if (std::system("gnuplot --version > /dev/null 2>&1") != 0) {
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.out.find("gnuplot is not installed"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("optimizer"), std::string::npos) << "the table is printed anyway";
    GTEST_SKIP() << "gnuplot is not installed: the message was checked, the PNG cannot be";
  }
  ASSERT_EQ(r.exit_code, 0) << r.out;
  for (const char* name : {"sgd:lr=0.002,momentum=0.9", "adam:lr=0.1", "rmsprop:lr=0.01", "adagrad:lr=1"})
    EXPECT_NE(r.out.find(name), std::string::npos) << r.out;
  std::ifstream in(png, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  EXPECT_EQ(std::string(magic + 1, 3), "PNG");
  std::remove(png.c_str());
}

TEST(EmberBenchOptim, CpuJsonIsOneObjectWithEveryResult) {
  const Result r = run_program("ember-bench-optim",
                               "--device cpu --json --n 4099 --n 100 --optimizer adam --optimizer nag --reps 2 "
                               "--warmup 1 --unfused --threads 1",
                               false);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const nlohmann::json j = nlohmann::json::parse(r.out);  // nothing but the object on stdout
  EXPECT_EQ(j.at("device").get<std::string>().rfind("CPU", 0), 0u);
  EXPECT_GT(j.at("copy_gb_per_s").get<double>(), 0);
  const nlohmann::json& results = j.at("results");
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results[0].at("optimizer"), "adam");
  EXPECT_EQ(results[0].at("n"), 4099);
  EXPECT_EQ(results[0].at("bytes"), 4099 * 28);  // Adam: 28 bytes per parameter
  EXPECT_EQ(results[3].at("optimizer"), "nag");
  EXPECT_EQ(results[3].at("n"), 100);
  for (const nlohmann::json& x : results) {
    EXPECT_GT(x.at("ms").get<double>(), 0);
    EXPECT_NEAR(x.at("gb_per_s").get<double>(), x.at("bytes").get<double>() / (x.at("ms").get<double>() * 1e6), 1e-6);
    EXPECT_NEAR(x.at("fraction_of_copy").get<double>(),
                x.at("gb_per_s").get<double>() / j.at("copy_gb_per_s").get<double>(), 1e-9);
    EXPECT_TRUE(x.contains("speedup_vs_unfused"));  // --unfused: baseline validated and timed
  }
  const Result bad = run_program("ember-bench-optim", "--device cpu --optimizer adam:lr=-1");
  EXPECT_EQ(bad.exit_code, 2) << bad.out;
  EXPECT_EQ(run_program("ember-bench-optim", "--n 10").exit_code, 2);
  const Result small_muon = run_program("ember-bench-optim", "--device cpu --optimizer muon --n 1000");
  EXPECT_EQ(small_muon.exit_code, 2) << small_muon.out;
  EXPECT_NE(small_muon.out.find("runs on ResNet-18's own shapes"), std::string::npos) << small_muon.out;
}

// Schedule-Free in ember-bench-optim: the fused step against the unfused baseline (the
// schedulefree package's ops one by one, validated before timing), Adam's 28 bytes per
// parameter for sfadamw and 20 for sfsgd; a bad key exits 2 listing the valid ones.
TEST(EmberBenchOptim, ScheduleFreeRunsAndRefusesBadKeys) {
  const Result r = run_program("ember-bench-optim",
                               "--device cpu --json --n 4099 --optimizer sfadamw --optimizer sfsgd:warmup_steps=2 "
                               "--reps 2 --warmup 1 --unfused --threads 1",
                               false);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const nlohmann::json results = nlohmann::json::parse(r.out).at("results");
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].at("bytes"), 4099 * 28);  // z and exp_avg_sq read and written
  EXPECT_EQ(results[1].at("bytes"), 4099 * 20);  // z
  for (const nlohmann::json& x : results) EXPECT_TRUE(x.contains("speedup_vs_unfused"));
  const Result bad = run_program("ember-bench-optim", "--device cpu --optimizer sfadamw:betas=0.9");
  EXPECT_EQ(bad.exit_code, 2) << bad.out;
  EXPECT_NE(bad.out.find("valid keys: lr, beta1, beta2, eps, weight_decay, warmup_steps, r, weight_lr_power"),
            std::string::npos)
      << bad.out;
  const Result range = run_program("ember-bench-optim", "--device cpu --optimizer sfsgd:momentum=1");
  EXPECT_EQ(range.exit_code, 2) << range.out;
  EXPECT_NE(range.out.find("momentum"), std::string::npos) << range.out;
}

// Adafactor and Muon on ResNet-18's own shapes: what they hold and how many launches a CUDA
// step takes (the figures of docs/optim.md).
TEST(EmberBenchOptim, AdafactorAndMuonOnResNet18) {
  const Result r = run_program("ember-bench-optim",
                               "--device cpu --json --optimizer adafactor --optimizer muon --optimizer adam --reps 1 "
                               "--warmup 0",
                               false);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const nlohmann::json results = nlohmann::json::parse(r.out).at("results");
  ASSERT_EQ(results.size(), 3u);
  for (const nlohmann::json& x : results) EXPECT_EQ(x.at("n"), 11181642);
  const nlohmann::json &adafactor = results[0], &muon = results[1], &adam = results[2];
  EXPECT_EQ(adafactor.at("cuda_launches_per_step"), 3);
  // 11 batches of distinct flattened shapes: 2 + 5 x (3 x 11 + 2) + 1, and AdamW's one launch.
  EXPECT_EQ(muon.at("cuda_launches_per_step"), 179);
  EXPECT_EQ(adam.at("cuda_launches_per_step"), 1);
  EXPECT_EQ(adam.at("workspace_bytes"), 0);
  // Adafactor's factored state is far below Adam's two floats per parameter; Muon's state is one
  // float per hidden weight plus AdamW's two for the other 9,600 parameters or so.
  const double params = 11181642;
  const double adafactor_state = adafactor.at("state_bytes").get<double>() - adafactor.at("workspace_bytes").get<double>();
  const double muon_state = muon.at("state_bytes").get<double>() - muon.at("workspace_bytes").get<double>();
  EXPECT_LT(adafactor_state / params, 4.0);
  EXPECT_GT(adafactor_state / params, 1.0);
  EXPECT_NEAR(muon_state / params, 4.0, 0.02);
  EXPECT_NEAR(adam.at("state_bytes").get<double>() / params, 8.0, 0.01);
}

}  // namespace
